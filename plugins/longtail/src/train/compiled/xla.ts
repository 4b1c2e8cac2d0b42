import { ATTR, type NodeSpec } from './proto';

/** The one XLA cluster a marked step forms (every op of it shares the scope). */
export const XLA_SCOPE = 'iccl_step';

/**
 * `nodes` with every op but the feeds marked for XLA: `_XlaCompile` asks TensorFlow's
 * mark-for-compilation pass to cluster the op, `_XlaScope` keeps all of them in one cluster, so the
 * session compiles the whole step (forward, backward, SGD) into one XLA executable per signature.
 * Placeholders stay outside: they are the cluster's arguments. `nodes` is left as it was.
 */
export function markForXla(nodes: NodeSpec[]): NodeSpec[] {
  return nodes.map((n) =>
    n.op === 'Placeholder'
      ? n
      : {
          ...n,
          attrs: [
            ...n.attrs.filter((a) => a.name !== '_XlaCompile' && a.name !== '_XlaScope'),
            { name: '_XlaCompile', type: ATTR.BOOL, value: true },
            { name: '_XlaScope', type: ATTR.STRING, value: XLA_SCOPE },
          ],
        },
  );
}
