import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { PoolClient } from 'pg';
import { GENESIS_HASH, headMac, listSegments, parseChainBytes, verifyAuditLog } from '@app/audit';
import type { AuditRecord } from '@app/audit';
import type { Database } from './database';
import { appendChainedBatch, inventoryKeyOf } from './pg-ledger-sink';

export interface LedgerImportOptions {
  /** The file log's directory (segments and head file). */
  dir: string;
  /** AUDIT_HMAC_KEY: checks the file log's head (today's head key, or an earlier release's raw key) and MACs the ledger's. */
  key: string;
  /** Records per statement (default 2,000). */
  batch?: number;
}

export interface LedgerImportResult {
  /** Records added to the ledger. */
  records: number;
  /** The first and last seq added (absent when nothing was to add). */
  from?: number;
  to?: number;
  /** The ledger's head before: seq 0 when it was empty. */
  continued: number;
  /** What the file log's head file was: MAC'd with the head key, or with the raw key of an earlier release. */
  fileHead: 'matches' | 'legacy head';
  /** Credentials in the inventory after the import. */
  inventory: number;
}

/** The file log is broken, or the ledger cannot take it: nothing was imported. */
export class LedgerImportRefused extends Error {
  override readonly name = 'LedgerImportRefused';
}

/**
 * Loads a file log (what AuditFileSink writes) into the ledger, keeping each record's seq,
 * prev_hash, time and exact line, so the chain goes on. The log is verified first (from seq 1 to
 * its MAC'd head, as `keygate audit verify DIR` does); a broken one is refused naming the first bad
 * record. The ledger must be empty, or end at a record of the log (its head's seq and hash): then
 * only the records after it are added. One transaction: all of it or nothing. Records go in with
 * PgLedgerSink's own batch statement, so the head moves (MAC'd with the head key) and the
 * credentials inventory is rebuilt by the same rules as the gateway's; a batch never holds two
 * changes of one credential, so the changes apply in order.
 */
export async function importAuditLog(
  database: Database,
  options: LedgerImportOptions,
): Promise<LedgerImportResult> {
  const { dir, key } = options;
  const batchSize = options.batch ?? 2_000;
  const check = verifyAuditLog(dir, key);
  if (!check.ok) {
    const p = check.problem;
    throw new LedgerImportRefused(
      `the file log in ${dir} does not verify, nothing imported: ${p?.kind} at ${p?.segment}${p?.line ? ` line ${p.line}` : ''}${p?.seq !== undefined ? ` (seq ${p.seq})` : ''}: ${p?.message}`,
    );
  }
  const fileHead = check.head === 'legacy head' ? 'legacy head' : 'matches';
  const fileEnd = check.last ?? { seq: 0, hash: GENESIS_HASH };

  const client: PoolClient = await database.pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const row = (
      await client.query<{ seq: string; hash: string; mac: string }>(
        'SELECT seq, hash, mac FROM ledger_head FOR UPDATE',
      )
    ).rows[0];
    let head = row && { seq: Number(row.seq), hash: row.hash };
    if (row && headMac(key, head.seq, head.hash) !== row.mac)
      throw new LedgerImportRefused(
        `the ledger's head (seq ${head.seq}) does not carry this deployment's MAC: nothing imported`,
      );
    if (!row) {
      const { rows } = await client.query('SELECT 1 FROM ledger_records LIMIT 1');
      if (rows.length > 0)
        throw new LedgerImportRefused('the ledger has records but no head: nothing imported');
    }
    const continued = head?.seq ?? 0;
    if (continued > fileEnd.seq)
      throw new LedgerImportRefused(
        `the ledger is not empty (its head is at seq ${continued}) and the file log ends before it (seq ${fileEnd.seq}): nothing imported`,
      );

    let records = 0;
    let from: number | undefined;
    let batch: AuditRecord[] = [];
    let lines: string[] = [];
    let keys = new Set<string>();
    const flush = async () => {
      if (batch.length === 0) return;
      if (!(await appendChainedBatch(client, key, head, batch, lines)))
        throw new LedgerImportRefused(
          'the ledger moved during the import (is a gateway writing to it?): nothing imported',
        );
      const last = batch[batch.length - 1];
      head = { seq: last.seq, hash: last.hash };
      records += batch.length;
      batch = [];
      lines = [];
      keys = new Set();
    };

    // The second pass reads what the first verified; each line is checked again as it goes in.
    let prev = { seq: 0, hash: GENESIS_HASH };
    let found = continued === 0;
    for (const segment of listSegments(dir)) {
      const bytes = readFileSync(segment);
      for (let at = 0; at < bytes.length;) {
        const nl = bytes.indexOf(0x0a, at);
        const lineBytes = bytes.subarray(at, nl < 0 ? bytes.length : nl);
        at = nl < 0 ? bytes.length : nl + 1;
        const parsed = parseChainBytes(lineBytes);
        if (
          !parsed ||
          !parsed.intact ||
          parsed.seq !== prev.seq + 1 ||
          parsed.prevHash !== prev.hash
        )
          throw new LedgerImportRefused(
            `${basename(segment)} changed after it was verified (at seq ${prev.seq + 1}): nothing imported`,
          );
        prev = { seq: parsed.seq, hash: parsed.hash };
        if (parsed.seq < continued) continue;
        if (parsed.seq === continued) {
          if (parsed.hash !== head?.hash)
            throw new LedgerImportRefused(
              `the ledger is not empty and the file log does not continue its head: record seq ${continued} differs (the ledger's head is not in this log): nothing imported`,
            );
          found = true;
          continue;
        }
        const line = lineBytes.toString('utf8');
        const record = JSON.parse(line) as AuditRecord;
        const credential = inventoryKeyOf(record);
        if (batch.length >= batchSize || (credential !== undefined && keys.has(credential)))
          await flush();
        if (credential !== undefined) keys.add(credential);
        from ??= record.seq;
        batch.push(record);
        lines.push(line);
      }
    }
    await flush();
    if (!found || prev.seq !== fileEnd.seq)
      throw new LedgerImportRefused(
        `the file log changed after it was verified (it ends at seq ${prev.seq}, not ${fileEnd.seq}): nothing imported`,
      );
    const inventory = Number(
      (await client.query<{ n: string }>('SELECT count(*) AS n FROM credentials')).rows[0].n,
    );
    await client.query('COMMIT');
    // Statistics for the planner now, not when autovacuum comes by: a query planned on a large
    // table without them may walk the whole ledger (best effort: a role that may not is fine).
    if (records > 0)
      await client.query('ANALYZE ledger_records, credentials').catch(() => undefined);
    return {
      records,
      ...(from !== undefined && { from, to: prev.seq }),
      continued,
      fileHead,
      inventory,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = error as Error;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}
