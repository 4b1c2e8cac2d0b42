// @iccl/mlflow's tracker on its own, in a training loop written by hand: fit y = 2x + 1 with
// TensorFlow.js and log the loss of every step to the MLflow server at $MLFLOW_TRACKING_URI.
const tf = require('@tensorflow/tfjs-node');
const { createMlflowBackend } = require('@iccl/mlflow');

async function main() {
  const experimentName = process.argv[2] || 'own-project';
  const backend = await createMlflowBackend({ experimentName });
  const run = await backend.startRun({ name: 'hand-written-loop' });
  const lr = 0.1;
  run.logParams({ lr, steps: 30 });
  const xs = tf.tensor1d([0, 1, 2, 3, 4]).div(4);
  const ys = xs.mul(2).add(1);
  const w = tf.variable(tf.scalar(0));
  const b = tf.variable(tf.scalar(0));
  const opt = tf.train.sgd(lr * 5);
  for (let step = 0; step < 30; step++) {
    const loss = opt.minimize(() => xs.mul(w).add(b).sub(ys).square().mean(), true);
    run.logMetrics({ loss: loss.dataSync()[0] }, step);
    loss.dispose();
  }
  run.logMetrics({ w: w.dataSync()[0], b: b.dataSync()[0] });
  await run.end('FINISHED');
  await backend.close();
  console.log('RESULT ' + JSON.stringify({ experimentName, run: 'hand-written-loop' }));
}

main().catch((e) => { console.error(`error: ${e.message}`); process.exit(1); });
