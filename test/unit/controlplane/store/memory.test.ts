// The Store contract against the in-memory store (SQLite on ':memory:').
import t from 'tap';
import { openMemoryStore } from '../../../../controlplane/store/memory.ts';
import { runStoreContract } from '../../../helpers/store-contract.ts';

runStoreContract(t, { open: async () => openMemoryStore() });
