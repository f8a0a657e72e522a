/** Message headers flow control adds when sending, read back by the worker. */
export const UNIQUE_HEADER = 'celeriac-unique'
export const DEBOUNCE_HEADER = 'celeriac-debounce'
/** Record spaces of the coordination part. */
export const UNIQUE_SPACE = 'flow-unique'
export const DEBOUNCE_SPACE = 'flow-debounce'
