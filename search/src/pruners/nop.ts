import type { Pruner } from './base';

/** Never prunes: for studies whose trials should all run to the end. */
export class NopPruner implements Pruner {
  async prune(): Promise<boolean> {
    return false;
  }
}
