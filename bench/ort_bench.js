// ort_bench.js - ONNX Runtime's side of `make bench` (bench/run.sh): the
// networks bench/torch_bench.py exports, run by onnxruntime-node with the
// options users get (all graph optimisations, sequential execution, T
// intra-op threads, 1 inter-op thread), timed as runtime/driver_bench.c
// times the generated code: a warm-up of SECONDS/20 (at least one call),
// then 5 runs of at least SECONDS/10 each; the median rate.  The timing
// is around session.run() inside node, so each call also pays the
// binding's overhead (tensor wrapping, the promise): at batch 1 it is part
// of the latency; trivial.onnx measures it.
//
// Usage: node bench/ort_bench.js MODEL.onnx SHAPE BATCH THREADS SECONDS
//   SHAPE is one image's, e.g. 1x28x28; prints, as the driver does,
//     forward: X images/s (batch B)
//   and at batch 1 also
//     latency: X us (batch 1)
//        node bench/ort_bench.js --version
//   prints onnxruntime-node's version.
// Needs onnxruntime-node on NODE_PATH (run.sh installs it under build/).
'use strict';

const RUNS = 5;

function usage() {
    console.error('usage: node ort_bench.js MODEL.onnx SHAPE BATCH THREADS SECONDS | --version');
    process.exit(2);
}

function positive(text, integer) {
    const v = Number(text);
    if (!(v > 0) || (integer && !Number.isInteger(v)))
        usage();
    return v;
}

function seconds() {
    return Number(process.hrtime.bigint()) / 1e9;
}

// Median images/s of session.run over RUNS runs of at least secs each.
async function rate(session, feeds, batch, secs) {
    const t0 = seconds();
    do
        await session.run(feeds);   // warm-up: allocations, thread pool
    while (seconds() - t0 < secs / 2);
    const rates = [];
    for (let r = 0; r < RUNS; r++) {
        let calls = 0, elapsed;
        const start = seconds();
        do {
            await session.run(feeds);
            calls++;
        } while ((elapsed = seconds() - start) < secs);
        rates.push(calls * batch / elapsed);
    }
    rates.sort((a, b) => a - b);
    return rates[RUNS >> 1];
}

async function main() {
    const ort = require('onnxruntime-node');
    const argv = process.argv.slice(2);
    if (argv.length === 1 && argv[0] === '--version') {
        console.log(ort.env.versions.common);
        return;
    }
    if (argv.length !== 5)
        usage();
    const [model, shapeText] = argv;
    const image = shapeText.split('x').map((d) => positive(d, true));
    const batch = positive(argv[2], true), threads = positive(argv[3], true);
    const secs = positive(argv[4], false) / (2 * RUNS);
    const session = await ort.InferenceSession.create(model, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
    });
    const shape = [batch, ...image];
    const data = new Float32Array(shape.reduce((a, b) => a * b));
    for (let i = 0; i < data.length; i++)
        data[i] = Math.random();
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
    const r = await rate(session, feeds, batch, secs);
    console.log(`forward: ${r.toFixed(1)} images/s (batch ${batch})`);
    if (batch === 1)
        console.log(`latency: ${(1e6 / r).toFixed(1)} us (batch 1)`);
}

main().catch((e) => {
    console.error(`ort_bench.js: ${e.message || e}`);
    process.exit(1);
});
