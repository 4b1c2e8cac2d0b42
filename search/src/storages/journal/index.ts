export { JournalStorage, type JournalStorageOptions } from './journal-storage';
export { JournalFileBackend } from './file-backend';
export { JournalLock, type JournalFileLock, type LockKind } from './file-lock';
export { JournalOperation, type JournalLog } from './operations';
export { parsePython, stringifyPython } from './python-json';
