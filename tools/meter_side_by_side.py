#!/usr/bin/python3
"""METER-B/16 VQA throughput side by side: TokenScope against csarron/PuMer's own METER code, in one run, on the same
machine, with the same shapes and inputs (random weights on both sides; throughput does not depend on their values):
  ref_none   csarron/PuMer's MeterForQuestionAnswering (src/pumer/model/meter/), no reduction
  ref_pumer  the same code with PuMer's released METER VQAv2 setting (notes/cmd.md "meter-vqa2-pumer", bench.sh):
             MeterConfig(reduce_layers=[0, 2, 4, 6], prune_r=0.2, merge_r=0.2, merge_text=0.2), i.e. fusion layers
             0-3 of 6 (PuMer's layer_idx advances by 2 per fusion layer; docs/algorithms.md §1.2, §1.4)
  ts_none    tokenscope-cli bench --arch meter-b16 --method none
  ts_pumer   tokenscope-cli bench --arch meter-b16 --method pumer --preset vqav2 (reference mode)
Shapes (METER-B/16 as released): CLIP ViT-B/16 image encoder (PuMer's vit_meter.build_clip: width 768, 12 heads,
11 residual blocks), RoBERTa-base text encoder (transformers RobertaModel, eager attention under torch 1.13),
6 co-attention layers per stream, hidden 768, 3129 VQA answers. Inputs as TokenScope's bench makes them: random
token ids in [500, 50265) with an all-ones mask, pixels uniform in [-1, 1]; fp32; Python under torch.no_grad().

Protocol: every round times, one after the other, ref_none, ref_pumer (a window of --seconds each, after a warm-up
before the first round) and one `tokenscope-cli bench --rounds 1 --seconds S` call (a window of S seconds per
method, after its own warm-up). Both sides count throughput the same way: batch * forwards / window time, the window
ending with the first forward that finishes after S seconds (TokenScope's timeCalls). Every ratio is taken inside a
round (a slow spell of this shared machine hits both sides), then the median over rounds. Both sides use --threads
intra-op threads (torch.set_num_threads here; OMP_NUM_THREADS for tokenscope-cli, which honours it). Progress goes
to stderr, one line per round; stdout gets one JSON object:
  examples_per_s                 median over rounds per configuration (ref_none, ref_pumer, ts_none, ts_pumer)
  ts_none_over_ref_none          TokenScope unreduced / PuMer's code unreduced (target >= 1.2 at batch 8)
  ts_pumer_speedup               TokenScope pumer / TokenScope none
  ref_pumer_speedup              PuMer's code with its preset / PuMer's code unreduced (target: ts_pumer_speedup >= it)
  ts_pumer_over_ref_pumer        TokenScope pumer / PuMer's code with its preset
  <ratio>_per_round              the same ratios, one per round; per_round: examples/s and forwards per window
  tokens_per_fusion_layer        image/text tokens after each fusion layer's reduction, as the reference code ran them
                                 (one batch-1 forward, hooks only) and as TokenScope's bench reported them
  reference_args                 exactly what was passed to PuMer's code

--breakdown (off by default; without it nothing above changes) adds, after the rounds, a per-stage timing of both
sides, in milliseconds per example (forward time / batch), averaged over --breakdown-forwards forwards per
configuration. It does not touch the throughput windows: the reference side is timed in a separate pass with hooks
that are removed afterwards, and TokenScope's side in one extra call,
  tokenscope-cli bench ... --batch B,B,B --rounds 1 --seconds 0.001 --trace-json FILE --format json
(the batch repeated once per forward: every bench row traces one forward, after its own warm-up). The four stages
mean the same on both sides:
  text_ms    RoBERTa embeddings through the last text layer. Reference: forward pre-hook on
             meter.text_transformer.embeddings to post-hook on meter.text_transformer.encoder.layer[-1].
             TokenScope: the sum of the top-level "text" spans ("embeddings" and "layer N"); the bridge after
             them is in no span and counts as other. (Builds before 2026-12-07 wrapped the text layers and the
             bridge in the "embeddings" span; then text runs from its start to the end of its last "layer N".)
  vision_ms  CLIP patch embedding, ln_pre and the residual blocks. Reference: pre-hook on meter.vit_model to
             post-hook on meter.vit_model.transformer (ln_post counts as other). TokenScope: the sum of the
             top-level "vision" spans ("embeddings" and "layer N"; their "attention"/"mlp" children not again).
  fusion_ms  the co-attention layers, PuMer's prune/merge included (it runs inside them). Reference: pre-hook on
             meter.cross_modal_text_layers[0] to post-hook on meter.cross_modal_image_layers[-1]. TokenScope: the
             sum of the top-level "fusion" spans ("layer N"; "attention", "mlp", "reduce" and "reduce.*" inside).
  other_ms   total_ms less the three above: bridges (cross-modal transforms, token types), ln_post, poolers,
             classifier, and untraced glue.
  total_ms   reference: pre-hook to post-hook of the whole MeterForQuestionAnswering; TokenScope: from the first
             span's start to the last span's end of the traced forward.
A span is top-level when no span of the same category encloses it, so nothing is counted twice. The JSON gets
  breakdown.{ref_none,ref_pumer,ts_none,ts_pumer}  {text_ms, vision_ms, fusion_ms, other_ms, total_ms, window_ms};
                                 window_ms = 1000 / examples_per_s of the rounds, to check total_ms against
  breakdown.fusion_share         fusion_ms / total_ms per configuration
  breakdown.max_speedup_if_fusion_free  per side (ref, ts): total_ms / (total_ms - fusion_ms) of its unreduced
                                 configuration, the ceiling on what any fusion-only reduction could gain there
  breakdown.forwards, breakdown.tokenscope_command

The reference code is imported from $REF (nothing of it is in this repository), with these trees under one folder:
  $REF/PuMer/src         csarron/PuMer, commit 8a00d85314175a4635d074fb003ae39da171ddc7
  $REF/transformers/src  huggingface/transformers 4.44 (the mirror johnnyboystar22/hugging-face, newest commit
                         80b90e7b2f7466ffb1d9036986e0699880d34284 = 4.44.0.dev0)
  $REF/hfhub/src         huggingface/huggingface_hub v0.24.6, commit 23bab6a3fdb11bcdf3424f79fbe245ed4b9256ef
from a snapshot's git directory: git --git-dir=<dir> archive <commit> src | tar -x -C $REF/<folder>.
Environment: Debian 12's /usr/bin/python3 with python3-torch python3-numpy python3-regex python3-filelock
python3-tqdm python3-packaging python3-yaml python3-requests (no pip). The few packages transformers imports but METER
inference never uses (safetensors, tokenizers, the huggingface_hub/safetensors metadata) are stood in for by stubs this
script writes to a temporary folder; roberta-base's config.json (which MeterModel reads through AutoConfig) is
written there too, so nothing is downloaded.

Run from the repository root:
  REF=<reference root> /usr/bin/python3 -W ignore tools/meter_side_by_side.py [--cli build/app/tokenscope-cli]
      [--batch 8] [--text-length 50] [--image-size 384|576] [--rounds 3] [--seconds 40] [--threads 2]
      [--breakdown [--breakdown-forwards 3]]
"""
import argparse, atexit, json, os, shutil, statistics, subprocess, sys, tempfile, time, types

HERE = os.path.dirname(os.path.abspath(__file__))
PUMER_COMMIT = "8a00d85314175a4635d074fb003ae39da171ddc7"

# PuMer's METER VQAv2 setting (notes/cmd.md "meter-vqa2-pumer": l=0,2,4,6 pr=0.2 mr=0.2 mt=0.2; bench.sh/profile.md).
PUMER_VQAV2 = dict(reduce_layers=[0, 2, 4, 6], prune_r=0.2, merge_r=0.2, merge_text=0.2)

# roberta-base's config.json (what MeterModel's AutoConfig.from_pretrained("roberta-base") reads).
ROBERTA_BASE = {
    "architectures": ["RobertaForMaskedLM"], "attention_probs_dropout_prob": 0.1, "bos_token_id": 0,
    "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768,
    "initializer_range": 0.02, "intermediate_size": 3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 514,
    "model_type": "roberta", "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 1,
    "type_vocab_size": 1, "vocab_size": 50265,
}

# Import-only stand-ins: transformers 4.44 imports these unconditionally (or checks their metadata); METER inference
# never calls them.
STUBS = {
    "huggingface_hub-0.24.6.dist-info/METADATA": "Metadata-Version: 2.1\nName: huggingface_hub\nVersion: 0.24.6\n",
    "safetensors-0.4.3.dist-info/METADATA": "Metadata-Version: 2.1\nName: safetensors\nVersion: 0.4.3\n",
    "safetensors/__init__.py": (
        "__version__ = '0.4.3'\n"
        "class SafetensorError(Exception):\n    pass\n"
        "def safe_open(*a, **k):\n    raise RuntimeError('safetensors stub')\n"),
    "safetensors/torch.py": (
        "def storage_ptr(t):\n    return t.storage().data_ptr()\n"
        "def storage_size(t):\n    return t.storage().size() * t.element_size()\n"
        "def load_file(*a, **k):\n    raise RuntimeError('safetensors stub')\n"
        "save_file = load = save = load_file\n"),
    "tokenizers/__init__.py": (
        "class _Unavailable:\n    def __init__(self, *a, **k):\n        raise ImportError('tokenizers stub')\n"
        "class _NS:\n    def __getattr__(self, name):\n        return _Unavailable\n"
        "Tokenizer = AddedToken = Regex = _Unavailable\n"
        "decoders = normalizers = pre_tokenizers = processors = trainers = _NS()\n"),
    "tokenizers/models.py": "from . import _Unavailable\nBPE = Unigram = WordPiece = WordLevel = _Unavailable\n",
}


def reference_imports():
    """Puts $REF's trees and the generated stubs on sys.path; returns the folder holding roberta-base's config."""
    ref = os.environ.get("REF")
    if not ref:
        sys.exit("REF is not set: point it at the folder holding PuMer/src, transformers/src and hfhub/src (see the header)")
    tmp = tempfile.mkdtemp(prefix="meter_refbench_")
    atexit.register(shutil.rmtree, tmp, True)
    for rel, text in STUBS.items():
        os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
        with open(os.path.join(tmp, rel), "w") as f:
            f.write(text)
    roberta = os.path.join(tmp, "roberta-base")
    os.makedirs(roberta)
    with open(os.path.join(roberta, "config.json"), "w") as f:
        json.dump(ROBERTA_BASE, f)
    for p in [os.path.join(ref, "PuMer", "src"), os.path.join(ref, "transformers", "src"),
              os.path.join(ref, "hfhub", "src"), tmp]:
        if not os.path.isdir(p):
            sys.exit(f"missing {p} (see the header)")
        sys.path.insert(0, p)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    src = os.path.join(ref, "PuMer", "src", "pumer")
    for name, path in [("pumer", src), ("pumer.model", os.path.join(src, "model"))]:
        m = types.ModuleType(name)  # skip pumer/model/__init__.py, which imports ViLT's timm code and training code
        m.__path__ = [path]
        sys.modules[name] = m
    return roberta


def resolve_cli(cli):
    if os.path.isabs(cli) or os.path.exists(cli):
        return cli
    alt = os.path.join(os.path.dirname(HERE), cli)  # relative to the repository root
    return alt if os.path.exists(alt) else cli


def tokenscope_round(cli, batch, text_length, image_size, seconds, threads):
    """One TokenScope window per method: `bench --rounds 1 --format json` rows, each with `method` and
    `examples_per_s` (or `examples_per_s_median`). OMP_NUM_THREADS sets its intra-op threads (as --threads here)."""
    cmd = [cli, "bench", "--arch", "meter-b16", "--method", "none,pumer", "--preset", "vqav2", "--batch", str(batch),
           "--rounds", "1", "--seconds", str(seconds), "--text-length", str(text_length),
           "--image-size", str(image_size), "--format", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = proc.stdout
    doc = json.loads(out[out.index("["):] if out.lstrip()[:1] != "{" else out)
    rows = doc.get("rows", []) if isinstance(doc, dict) else doc
    got, info = {}, {}
    for r in rows:
        k = "ts_" + str(r.get("method"))
        if r.get("method") in ("none", "pumer") and k not in got:
            got[k] = float(r.get("examples_per_s_median", r["examples_per_s"]))
            info[k] = {"iterations": r.get("iterations"), "settings": r.get("settings"),
                       "image_tokens": r.get("image_tokens_per_layer"), "text_tokens": r.get("text_tokens_per_layer")}
    if set(got) != {"ts_none", "ts_pumer"}:
        raise SystemExit(f"tokenscope-cli bench --format json gave no none/pumer rows with examples_per_s: {out[:300]}")
    machine = doc.get("machine") if isinstance(doc, dict) else None
    return got, info, cmd, machine


STAGES = ("text_ms", "vision_ms", "fusion_ms", "other_ms", "total_ms")


def trace_stages(events):
    """One traced forward's Chrome 'X' events -> {text_ms, vision_ms, fusion_ms, other_ms, total_ms} (whole batch).
    Only spans that no span of the same category encloses are summed; text ends with its last "layer N" child."""
    events = sorted(events, key=lambda e: (float(e["ts"]), -float(e["dur"])))
    open_spans, top = [], []
    for e in events:
        ts, end = float(e["ts"]), float(e["ts"]) + float(e["dur"])
        while open_spans and float(open_spans[-1]["ts"]) + float(open_spans[-1]["dur"]) <= ts + 1e-3:
            open_spans.pop()
        if not any(o.get("cat") == e.get("cat") for o in open_spans):
            top.append(e)
        open_spans.append(e)
    def total(cat):
        return sum(float(e["dur"]) for e in top if e.get("cat") == cat)
    text = total("text")
    text_layers = [e for e in events if e.get("cat") == "text" and str(e.get("name", "")).startswith("layer")]
    text_top = [e for e in top if e.get("cat") == "text"]
    if text_layers and len(text_top) == 1:  # embeddings .. last text layer; the bridge after it counts as other
        text = max(float(e["ts"]) + float(e["dur"]) for e in text_layers) - float(text_top[0]["ts"])
    whole = max(float(e["ts"]) + float(e["dur"]) for e in events) - min(float(e["ts"]) for e in events)
    us = {"text_ms": text, "vision_ms": total("vision"), "fusion_ms": total("fusion"), "total_ms": whole}
    us["other_ms"] = whole - us["text_ms"] - us["vision_ms"] - us["fusion_ms"]
    return {k: v / 1000.0 for k, v in us.items()}


def mean_per_example(samples, batch):
    return {k: round(statistics.mean(s[k] for s in samples) / batch, 3) for k in STAGES}


def tokenscope_breakdown(cli, batch, text_length, image_size, threads, forwards):
    """One bench call whose rows (the batch repeated `forwards` times, per method) each trace one forward after a
    warm-up; per method the mean per-example stage times from the Chrome trace."""
    fd, path = tempfile.mkstemp(prefix="meter_trace_", suffix=".json")
    os.close(fd)
    try:
        cmd = [cli, "bench", "--arch", "meter-b16", "--method", "none,pumer", "--preset", "vqav2",
               "--batch", ",".join([str(batch)] * forwards), "--rounds", "1", "--seconds", "0.001",
               "--text-length", str(text_length), "--image-size", str(image_size), "--format", "json",
               "--trace-json", path]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        with open(path) as f:
            doc = json.load(f)
    finally:
        os.unlink(path)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    names = {e["pid"]: str(e.get("args", {}).get("name", "")) for e in events
             if e.get("ph") == "M" and e.get("name") == "process_name"}
    runs = {}
    for e in events:
        if e.get("ph") == "X":
            runs.setdefault((e["pid"], e.get("tid")), []).append(e)
    got = {"ts_none": [], "ts_pumer": []}
    for (pid, _), evs in sorted(runs.items(), key=lambda kv: str(kv[0])):
        method = names.get(pid, "").split(" ")[0]
        if "ts_" + method in got:
            got["ts_" + method].append(trace_stages(evs))
    if not all(got.values()):
        raise SystemExit(f"{' '.join(cmd)}: the trace has no none/pumer forwards (processes: {sorted(names.values())})")
    return {k: mean_per_example(v, batch) for k, v in got.items()}, cmd, {k: len(v) for k, v in got.items()}


def reference_breakdown(model, x, batch, forwards):
    """Mean per-example stage times of `forwards` forwards of PuMer's MeterForQuestionAnswering, from perf_counter
    stamps taken in forward pre/post hooks (removed again before returning)."""
    import torch
    m = model.meter
    marks = {}
    def stamp(name):
        def hook(*_):  # pre-hooks get (module, args), post-hooks (module, args, output); both return None
            marks[name] = time.perf_counter()
        return hook
    pre = {"total0": model, "text0": m.text_transformer.embeddings, "vision0": m.vit_model,
           "fusion0": m.cross_modal_text_layers[0]}
    post = {"total1": model, "text1": m.text_transformer.encoder.layer[-1], "vision1": m.vit_model.transformer,
            "fusion1": m.cross_modal_image_layers[-1]}
    hooks = [mod.register_forward_pre_hook(stamp(k)) for k, mod in pre.items()]
    hooks += [mod.register_forward_hook(stamp(k)) for k, mod in post.items()]
    samples = []
    try:
        with torch.no_grad():
            for _ in range(forwards):
                marks.clear()
                model(**x, return_dict=True)
                ms = {k: 1000.0 * (marks[k + "1"] - marks[k + "0"]) for k in ("total", "text", "vision", "fusion")}
                samples.append({"text_ms": ms["text"], "vision_ms": ms["vision"], "fusion_ms": ms["fusion"],
                                "total_ms": ms["total"],
                                "other_ms": ms["total"] - ms["text"] - ms["vision"] - ms["fusion"]})
    finally:
        for h in hooks:
            h.remove()
    return mean_per_example(samples, batch)


def timed_window(f, batch, seconds):
    """Like TokenScope's timeCalls: forwards until `seconds` have passed (at least one); batch * forwards / time."""
    n, begin = 0, time.perf_counter()
    while True:
        f()
        n += 1
        elapsed = time.perf_counter() - begin
        if elapsed >= seconds:
            return batch * n / elapsed, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default="build/app/tokenscope-cli", help="tokenscope-cli binary")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--text-length", type=int, default=50)
    ap.add_argument("--image-size", type=int, default=384, help="square image side, a multiple of 16 (384, 576)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=40, help="timed seconds per configuration and round")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--breakdown", action="store_true",
                    help="also time text encoder, image encoder, fusion and the rest on both sides (see the header)")
    ap.add_argument("--breakdown-forwards", type=int, default=3, help="forwards per configuration for --breakdown")
    a = ap.parse_args()
    if a.breakdown and a.breakdown_forwards < 1:
        sys.exit("--breakdown-forwards must be at least 1")
    if a.image_size % 16:
        sys.exit("--image-size must be a multiple of 16 (ViT-B/16)")
    cli = resolve_cli(a.cli)
    started = time.perf_counter()
    roberta_dir = reference_imports()
    import torch
    from pumer.model.meter.configuration_meter import MeterConfig
    from pumer.model.meter.modeling_meter import MeterForQuestionAnswering
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B, T, S = a.batch, a.text_length, a.image_size

    common = dict(vqa_label_size=3129, max_text_len=T, tokenizer=roberta_dir, vocab_size=50265, token_types=2,
                  image_size=S, vit_patch_size=16, num_top_layer=6, hidden_size=768, num_heads=12, num_layers=12,
                  mlp_ratio=4, drop_rate=0.0)
    ref_none = MeterForQuestionAnswering(MeterConfig(**common)).eval()
    ref_pumer = MeterForQuestionAnswering(MeterConfig(**common, **PUMER_VQAV2)).eval()
    ref_pumer.load_state_dict(ref_none.state_dict())  # the same random weights

    def inputs(batch):
        return dict(text_ids=torch.randint(500, 50265, (batch, T)), text_masks=torch.ones(batch, T, dtype=torch.long),
                    pixel_values=torch.rand(batch, 3, S, S) * 2 - 1)

    x = inputs(B)
    runs = {"ref_none": lambda: ref_none(**x, return_dict=True),
            "ref_pumer": lambda: ref_pumer(**x, return_dict=True)}

    # Tokens after each fusion layer's reduction, as the reference runs them (the image-side layer's inputs).
    ref_tokens = {"image": [], "text": []}
    def count(module, args):  # returns None: the inputs are left as they are
        ref_tokens["image"].append(args[0].shape[1])
        ref_tokens["text"].append(args[1].shape[1])

    hooks = [l.register_forward_pre_hook(count) for l in ref_pumer.meter.cross_modal_image_layers]
    with torch.no_grad():
        ref_pumer(**inputs(1), return_dict=True)
    for h in hooks:
        h.remove()

    per_round, ts_info, ts_cmd, ts_machine = [], None, None, None
    with torch.no_grad():
        for f in runs.values():
            f()  # warm-up
        for i in range(a.rounds):
            r, iters = {}, {}
            for k, f in runs.items():
                r[k], iters[k] = timed_window(f, B, a.seconds)
            got, ts_info, ts_cmd, ts_machine = tokenscope_round(cli, B, T, S, a.seconds, a.threads)
            r.update(got)
            iters.update({k: v["iterations"] for k, v in ts_info.items()})
            per_round.append((r, iters))
            print(f"round {i + 1}/{a.rounds} ({time.perf_counter() - started:.0f} s): "
                  + ", ".join(f"{k} {v:.3f}" for k, v in r.items()) + " examples/s", file=sys.stderr, flush=True)

    rounds = [r for r, _ in per_round]
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ratios = {"ts_none_over_ref_none": ("ts_none", "ref_none"), "ts_pumer_speedup": ("ts_pumer", "ts_none"),
              "ref_pumer_speedup": ("ref_pumer", "ref_none"), "ts_pumer_over_ref_pumer": ("ts_pumer", "ref_pumer")}
    out = {"arch": "meter-b16", "batch": B, "text_length": T, "image_size": S, "rounds": a.rounds,
           "seconds_per_window": a.seconds, "threads": a.threads, "torch": torch.__version__,
           "examples_per_s": {k: round(v, 3) for k, v in med.items()}}
    for name, (num, den) in ratios.items():
        out[name] = round(statistics.median(r[num] / r[den] for r in rounds), 3)  # inside a round, then median
    for name, (num, den) in ratios.items():
        out[name + "_per_round"] = [round(r[num] / r[den], 3) for r in rounds]
    out["targets"] = {"ts_none_over_ref_none>=1.2": out["ts_none_over_ref_none"] >= 1.2,
                      "ts_pumer_speedup>=ref_pumer_speedup": out["ts_pumer_speedup"] >= out["ref_pumer_speedup"]}
    out["per_round"] = [{"examples_per_s": {k: round(v, 3) for k, v in r.items()}, "forwards": it}
                        for r, it in per_round]
    out["tokens_per_fusion_layer"] = {
        "ref_pumer": ref_tokens,
        "ts_pumer": {"image": ts_info["ts_pumer"]["image_tokens"], "text": ts_info["ts_pumer"]["text_tokens"]},
        "ts_none": {"image": ts_info["ts_none"]["image_tokens"], "text": ts_info["ts_none"]["text_tokens"]}}
    out["reference_args"] = {
        "code": f"csarron/PuMer@{PUMER_COMMIT} src/pumer/model/meter (MeterForQuestionAnswering)",
        "config": {**{k: v for k, v in common.items() if k != "tokenizer"}, "tokenizer": "roberta-base config.json"},
        "ref_pumer_config": PUMER_VQAV2,
        "call": "model(text_ids, text_masks, pixel_values, return_dict=True) under torch.no_grad()"}
    out["tokenscope"] = {"command": " ".join(ts_cmd), "settings": ts_info["ts_pumer"]["settings"],
                         "machine": ts_machine}
    if a.breakdown:
        bd = {k: reference_breakdown(runs_model, x, B, a.breakdown_forwards)
              for k, runs_model in (("ref_none", ref_none), ("ref_pumer", ref_pumer))}
        ts_bd, bd_cmd, ts_forwards = tokenscope_breakdown(cli, B, T, S, a.threads, a.breakdown_forwards)
        bd.update(ts_bd)
        for k in ("ref_none", "ref_pumer", "ts_none", "ts_pumer"):
            bd[k]["window_ms"] = round(1000.0 / med[k], 3)
        bd = {k: bd[k] for k in ("ref_none", "ref_pumer", "ts_none", "ts_pumer")}
        bd["fusion_share"] = {k: round(bd[k]["fusion_ms"] / bd[k]["total_ms"], 3)
                              for k in ("ref_none", "ref_pumer", "ts_none", "ts_pumer")}
        bd["max_speedup_if_fusion_free"] = {
            side: round(bd[side + "_none"]["total_ms"] / (bd[side + "_none"]["total_ms"] - bd[side + "_none"]["fusion_ms"]), 3)
            for side in ("ref", "ts")}
        bd["forwards"] = {"ref_none": a.breakdown_forwards, "ref_pumer": a.breakdown_forwards, **ts_forwards}
        bd["tokenscope_command"] = " ".join(bd_cmd[:-1] + ["FILE"])  # FILE: a temporary trace, removed
        out["breakdown"] = bd
        print(f"breakdown ({time.perf_counter() - started:.0f} s): "
              + ", ".join(f"{k} {bd[k]['total_ms']:.1f}" for k in ("ref_none", "ref_pumer", "ts_none", "ts_pumer"))
              + " ms/example", file=sys.stderr, flush=True)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
