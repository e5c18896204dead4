/** Injection token of the gateway's Database (`@app/ledger`): the PostgreSQL of DATABASE_URL. */
export const DATABASE = Symbol('DATABASE');
