/** Injection token of the gateway's Database (`@app/ledger`), or null when DATABASE_URL is unset. */
export const DATABASE = Symbol('DATABASE');
