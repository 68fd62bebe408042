export const DATABASE = Symbol('DATABASE');
export const DIALECT = Symbol('DIALECT');
