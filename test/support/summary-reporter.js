// Prints one plain closing line ("jest: N passed, N failed") that CI tooling can read.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    process.stdout.write(`jest: ${results.numPassedTests} passed, ${results.numFailedTests} failed\n`);
  }
}
module.exports = SummaryReporter;
