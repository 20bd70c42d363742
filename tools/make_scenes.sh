#!/usr/bin/env bash
# Picks the bundled Shapes scenes: from the test split (seed 3, never used in training), the first
# scene of each question type, copied to resources/images/shapes-TYPE.png, with images/scenes.json
# listing each scene's question and the generator's answer. The default (the window's first scene)
# is the first scene of DEFAULT_TYPE that MODEL answers right; the others are taken as they come,
# so the window shows the model's mistakes as well.
# Usage: tools/make_scenes.sh [MODEL] [DEFAULT_TYPE]   (defaults: resources/models/shapes-vilt, color)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${TOKENSCOPE_CLI:-build/app/tokenscope-cli}
model=${1:-resources/models/shapes-vilt}
default_type=${2:-color}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cli" shapes --seed 3 --n 80 --out "$tmp" > /dev/null
python3 - "$cli" "$model" "$tmp" "$default_type" <<'PY'
import json, shutil, subprocess, sys
cli, model, folder, default_type = sys.argv[1:5]
chosen = {}
for line in open(f"{folder}/questions.jsonl"):
    scene = json.loads(line)
    if scene["type"] in chosen:
        continue
    if scene["type"] != default_type:
        chosen[scene["type"]] = scene
        continue
    run = subprocess.run([cli, "answer", "--model", model, "--image", f"{folder}/{scene['file']}",
                          "--question", scene["question"], "--json"], capture_output=True, text=True, check=True)
    top = json.loads(run.stdout)["answers"][0]
    if top["label"] == scene["answer"] and top["score"] >= 0.6:
        chosen[scene["type"]] = scene
entries = []
for kind in ["color", "count", "exist", "relation", "size"]:
    if kind not in chosen:
        sys.exit(f"no scene of type {kind} among the first 80 (the default type: answered right)")
    scene = chosen[kind]
    name = f"shapes-{kind}.png"
    shutil.copy(f"{folder}/{scene['file']}", f"resources/images/{name}")
    entries.append({"image": name, "question": scene["question"], "answer": scene["answer"], "type": kind,
                    "split_seed": scene["seed"], "index": scene["index"]})
with open("resources/images/scenes.json", "w") as out:
    json.dump({"default": f"shapes-{default_type}.png", "scenes": entries}, out, indent=2)
    out.write("\n")
for e in entries:
    print(f"{e['image']:24} {e['question']!r} -> {e['answer']}")
PY
