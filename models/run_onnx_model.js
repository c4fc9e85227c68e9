// Runs an ONNX model in ONNX Runtime (onnxruntime-node, CPU, 1 intra-op thread) on a raw float32 input written by
// a verify script (models/fingerprint/verify_model.py, models/authentication/verify_models.py), writes the outputs
// back as raw float32, and times single-image inference.
//   NODE_PATH=/tmp/fp-ort/node_modules node run_onnx_model.js model.onnx in.f32 N out_prefix [timing_runs]
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const [model, inPath, nStr, outPrefix, runsStr] = process.argv.slice(2);
  const n = parseInt(nStr, 10);
  const buf = fs.readFileSync(inPath);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const sess = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential' });
  const t = new ort.Tensor('float32', data, [n, 1, 256, 256]);
  const out = await sess.run({ image: t });
  for (const k of Object.keys(out)) fs.writeFileSync(`${outPrefix}.${k}.f32`, Buffer.from(out[k].data.buffer));
  const runs = parseInt(runsStr || '0', 10);
  if (runs > 0) {
    const one = new ort.Tensor('float32', data.slice(0, 256 * 256), [1, 1, 256, 256]);
    for (let i = 0; i < 10; i++) await sess.run({ image: one });
    const times = [];
    for (let i = 0; i < runs; i++) { const s = process.hrtime.bigint(); await sess.run({ image: one });
      times.push(Number(process.hrtime.bigint() - s) / 1e6); }
    times.sort((a, b) => a - b);
    console.log(JSON.stringify({ runs, median_ms: times[runs >> 1], p90_ms: times[Math.floor(runs * 0.9)] }));
  }
})();
