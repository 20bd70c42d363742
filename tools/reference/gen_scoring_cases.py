#!/usr/bin/env python3
"""Write tests/data/scoring/: synthetic VQAv2, TextVQA, GQA, POPE and NLVR2 files in the official
layouts, and the scores the OFFICIAL scorers give them, for tests/tst_metrics.cpp.

The scorers are run unmodified from copies extracted outside the project (tests/data/scoring/
README.md says how). Nothing of them is copied here: this script only writes inputs, calls them
and records what they return or print.

    python3 tools/reference/gen_scoring_cases.py                 # references under /work/ref
    python3 tools/reference/gen_scoring_cases.py --ref-root DIR --python2 /path/to/python2.7

  VQAv2    GT-Vision-Lab/VQA vqaEval.py + vqa.py. They are Python 2 code and run on a Python 2.7
           interpreter (--python2, $PYTHON2, python2.7 on PATH or pyenv's 2.7). As a cross-check
           they also run on this Python 3 after a mechanical translation made on a temporary copy
           (leading tabs expanded to 8 columns as Python 2 reads them, then lib2to3's standard
           fixers); where the two disagree (halfway rounding, Unicode digits and case) the record
           keeps the Python 2 value and lists the difference.
  TextVQA  haotian-liu/LLaVA llava/eval/eval_textvqa.py eval_single() with m4c_evaluator.py;
           the evaluator's input and result are observed by wrapping its eval_pred_list method.
  GQA      LLaVA scripts/convert_gqa_for_eval.py (subprocess), then GQA's eval.py as vendored in
           SHI-Labs/VCoder (run with runpy; its `scores` are read from the module's globals).
  POPE     LLaVA llava/eval/eval_pope.py: the script itself over three categories, and its
           eval_pope() on degenerate label files (division by zero recorded).
  NLVR2    lil-lab/nlvr nlvr2/eval/metrics.py (runpy, printed values parsed).

Deterministic: the same references give byte-identical files.
"""

import argparse
import contextlib
import glob
import hashlib
import importlib
import io
import json
import os
import random
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
import warnings

SEED = 20240917

REFERENCES = {
    "vqa": {
        "repository": "GT-Vision-Lab/VQA",
        "commit": "a013f0043c1e2cdc995922dfe257f7149aa9af06",
        "folder": "VQA",
        "files": ["PythonHelperTools/vqaTools/vqa.py", "PythonEvaluationTools/vqaEvaluation/vqaEval.py",
                  "PythonEvaluationTools/vqaEvaluation/__init__.py"],
    },
    "llava": {
        "repository": "haotian-liu/LLaVA",
        "commit": "c121f0432da27facab705978f83c4ada465e46fd",
        "folder": "LLaVA",
        "files": ["llava/eval/m4c_evaluator.py", "llava/eval/eval_textvqa.py", "llava/eval/eval_pope.py",
                  "scripts/convert_gqa_for_eval.py", "scripts/convert_vqav2_for_submission.py"],
    },
    "gqa": {
        "repository": "SHI-Labs/VCoder",
        "commit": "4e85acef896cee7843257d5d844ec945407efb13",
        "folder": "gqa-eval",
        "files": ["playground/data/eval/gqa/data/eval/eval.py"],
    },
    "nlvr": {
        "repository": "lil-lab/nlvr",
        "commit": "18924841aa96d519cfb8584f0945350f07a6d860",
        "folder": "nlvr",
        "files": ["nlvr2/eval/metrics.py"],
    },
}


# ---------------------------------------------------------------------------------------------
# small helpers

def write_json(path, value, indent=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=indent, sort_keys=indent is not None)
        f.write("\n")


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def ref_path(args, key, relative):
    return os.path.join(args.ref_root, REFERENCES[key]["folder"], relative)


@contextlib.contextmanager
def captured_stdout():
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
        yield buffer


def run_script(path, argv, cwd):
    """Runs a reference script in this process (runpy) and returns (its globals, its stdout)."""
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = [path] + argv
    os.chdir(cwd)
    try:
        with captured_stdout() as out:
            module_globals = runpy.run_path(path, run_name="__main__")
        return module_globals, out.getvalue()
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)


def find_python2(explicit):
    candidates = [explicit, os.environ.get("PYTHON2"), shutil.which("python2.7"), shutil.which("python2")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python2.7")))
    for candidate in candidates:
        if not candidate:
            continue
        try:
            version = subprocess.run([candidate, "-c", "import sys; print(sys.version.split()[0])"],
                                     capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            continue
        if version.startswith("2.7"):
            return candidate, version
    sys.exit("no Python 2.7 found: vqaEval.py is Python 2 code; give --python2 PATH "
             "(pyenv install 2.7.18 provides one)")


# ---------------------------------------------------------------------------------------------
# VQAv2

VQA_DRIVER = r'''
from __future__ import print_function
import json, sys
helper, evaluation, ann_file, ques_file, res_file, out_file = sys.argv[1:7]
sys.path.insert(0, helper)
sys.path.insert(0, evaluation)
from vqa import VQA
from vqaEvaluation.vqaEval import VQAEval
if ann_file == "--process":
    # processPunctuation then processDigitArticle, as evaluate() applies them, on a list of strings.
    import io
    strings = json.load(io.open(ques_file, encoding="utf-8"))
    empty = VQA()
    empty.dataset = {"annotations": []}  # VQAEval's constructor asks it for its question ids
    evaluator = VQAEval(empty, empty, n=2)
    json.dump([evaluator.processDigitArticle(evaluator.processPunctuation(s)) for s in strings], open(out_file, "w"))
    sys.exit(0)
vqa = VQA(ann_file, ques_file)
res = vqa.loadRes(res_file, ques_file)
evaluator = VQAEval(vqa, res, n=2)
evaluator.evaluate()
# The lines vqaEvalDemo.py prints, in a fixed order.
printed = ["Overall Accuracy is: %.02f" % evaluator.accuracy["overall"]]
printed += ["%s : %.02f" % (t, evaluator.accuracy["perQuestionType"][t]) for t in sorted(evaluator.accuracy["perQuestionType"])]
printed += ["%s : %.02f" % (t, evaluator.accuracy["perAnswerType"][t]) for t in sorted(evaluator.accuracy["perAnswerType"])]
with open(out_file, "w") as f:
    json.dump({"accuracy": evaluator.accuracy, "evalQA": evaluator.evalQA, "printed": printed,
               "python": sys.version.split()[0]}, f)
'''

VQA_CONFIDENCES = ["yes", "maybe", "no"]
VQA_QUESTION_TYPES = ["what color is the", "how many", "is the", "what is", "none of the above", "what is the man"]


def vqa_hand_cases():
    """(answers, prediction, answer_type) triples; answers are 10 strings unless the case is about
    other counts or about repeated answer records ((answer, confidence, id) tuples)."""
    def mix(*pairs):
        out = []
        for answer, count in pairs:
            out += [answer] * count
        return out

    cases = []

    def add(answers, predictions, answer_type="other"):
        for p in predictions:
            cases.append((answers, p, answer_type))

    # identical answers: no processing at all (case, periods, punctuation all count)
    add(mix(("yes", 10)), ["yes", "Yes", "YES", "yes.", "yes ", " yes", "yes\n", "\tyes", "yes!", "no", "", "yeah"], "yes/no")
    add(mix(("t-shirt", 10)), ["t-shirt", "t shirt", "T-Shirt", "tshirt"])
    add(mix((" red", 5), ("red\n", 5)), ["Red", "red", " red\t"])          # identical once cleaned
    # mixed answers: processing on
    add(mix(("yes", 7), ("no", 3)), ["yes", "Yes", "Yes.", "YES!", "no", "No.", "yes, it is", "yes it is", "", "  yes  ", "nope"], "yes/no")
    add(mix(("no", 4), ("No", 3), ("no.", 2), ("nope", 1)), ["no", "NO", "no.", "nope", "No!"], "yes/no")
    add(mix(("t-shirt", 9), ("shirt", 1)), ["t shirt", "t-shirt", "T-Shirt", "t - shirt", "shirt"])
    # numbers and number words
    add(mix(("2", 6), ("two", 2), ("3", 2)), ["2", "two", "Two", "TWO.", "2.", "2.0", "02", "3", "three", "10", "ten",
                                               "none", "0", "zero", "2 ", "two dogs", "a two"], "number")
    add(mix(("0", 5), ("none", 3), ("zero", 2)), ["none", "0", "zero", "nothing", "None."], "number")
    add(mix(("2 dogs", 5), ("two dogs", 5)), ["two dogs", "2 dogs", "Two Dogs."], "number")
    add(mix(("10", 4), ("ten", 3), ("eleven", 3)), ["ten", "10", "eleven", "11"], "number")
    # decimals
    add(mix(("3.5", 5), ("3.50", 2), ("3 5", 1), ("35", 2)), ["3.5", "3.5.", "3,5", "3 . 5", ".5", "3..5", "3.5%", "35"], "number")
    add(mix(("0.5", 4), (".5", 3), ("1/2", 3)), ["0.5", ".5", "1/2", "half", "0.50"], "number")
    # commas in numbers: a digit-comma-digit anywhere deletes every punctuation mark
    add(mix(("1,000", 4), ("1000", 4), ("1 000", 2)), ["1,000", "1000", "1, 000", "1,000 dollars", "1,000,000", "one thousand"], "number")
    add(mix(("5,000 (approx)", 3), ("5000 approx", 4), ("5000", 3)), ["5,000 (approx)", "5000 (approx)", "5,000-approx"], "number")
    add(mix(("red, white", 5), ("red white", 5)), ["red, white", "red,white", "red white", "red/white"])
    add(mix(("12:30", 5), ("12 30", 5)), ["12:30", "12 30", "12.30", "1230"], "number")
    # articles
    add(mix(("dog", 6), ("a dog", 2), ("the dog", 2)), ["dog", "a dog", "The dog", "an dog", "the the dog", "dog a", "a", "the", "A Dog."])
    add(mix(("an apple", 5), ("apple", 5)), ["apple", "an apple", "the apple", "apples"])
    # contractions (the table's capitalised keys never match lower-cased words)
    add(mix(("don't", 5), ("dont", 3), ("do not", 2)), ["dont", "don't", "DONT", "do not", "Don't."])
    add(mix(("im", 5), ("i'm", 5)), ["Im", "I'm", "im", "i m"])
    add(mix(("ive", 5), ("i've", 5)), ["Ive", "I've"])
    add(mix(("let's", 5), ("lets", 5)), ["lets", "let's", "Let's go"])
    add(mix(("somebody'd", 5), ("somebodyd", 5)), ["somebody'd", "somebodyd"])
    add(mix(("oclock", 3), ("o'clock", 4), ("3 o'clock", 3)), ["oclock", "o'clock", "3 oclock", "3 O'Clock"])
    add(mix(("youre", 4), ("you're", 3), ("you are", 3)), ["youre", "you're", "YOURE"])
    # punctuation next to a space is deleted, elsewhere it becomes a space
    add(mix(("hot dog", 6), ("hot-dog", 4)), ["hot-dog", "hot - dog", "hot_dog", "hot/dog", "(hot dog)", "hot dog?", "hot;dog",
                                               "hot dog!!!", "\"hot dog\"", "hot\\dog", "hot+dog", "hot=dog", "<hot dog>",
                                               "@hot dog", "`hot dog`", "[hot dog]", "{hot dog}", "hot'dog", "hot:dog",
                                               "hot#dog", "hot–dog"])
    add(mix(("left-hand", 4), ("left hand", 6)), ["left-hand", "left - hand", "lefthand", "left- hand"])
    add(mix(("50%", 5), ("50", 5)), ["50%", "50 %", "50"], "number")
    # periods: deleted unless a digit follows, at most 32 of them
    add(mix(("st louis", 5), ("st. louis", 5)), ["st. louis", "St.Louis", "st louis.", "st.. louis"])
    add(mix(("usa", 5), ("u.s.a.", 5)), ["U.S.A.", "u.s.a", "usa", "u. s. a."])
    add(mix(("z", 9), ("zz", 1)), ["." * 40 + "z", "." * 32 + "z", "." * 20 + "z", "z" + "." * 33])
    add(mix(("e.g. this", 5), ("eg this", 5)), ["e.g. this", "eg this", "e.g.this"])
    # whitespace
    add(mix(("red", 8), ("blue", 2)), ["  red  ", "red\tblue", "red\nred", "red   ", "RED\t", "red\u00a0", "red\u3000",
                                        "red\u2003", "\u2028red", "red blue"])
    # empty answers and predictions
    add(mix(("", 3), ("nothing", 7)), ["", " ", "nothing", "\n"])
    # Unicode: case, digits (Python 2 and its Python 3 port differ on some of these)
    add(mix(("café", 6), ("cafe", 4)), ["Café", "CAFÉ", "cafe"])
    add(mix(("οδος", 6), ("δρομος", 4)), ["ΟΔΟΣ", "οδος", "ΟΔΌΣ"])
    add(mix(("istanbul", 7), ("i̇stanbul", 3)), ["İstanbul", "istanbul"])
    add(mix(("١,٢", 5), ("١٢", 5)), ["١,٢", "١٢", "١ ٢"], "number")
    add(mix(("３.５", 2), ("３５", 8)), ["３.５", "３５"], "number")
    add(mix(("ﬁsh", 5), ("fish", 5)), ["ﬁsh", "FISH"])
    # every annotator different
    add(["red", "blue", "green", "white", "black", "yellow", "orange", "pink", "brown", "gray"], ["red", "gray", "purple"])
    # answer types the tool does not know are scored under their own name
    add(mix(("red", 5), ("dark red", 5)), ["red", "dark red"], "color")
    # fewer answers than ten, and one answer (then no other annotator can match: 0)
    add(["cat", "cat", "dog"], ["cat", "dog", "Cat"])
    add(["cat"], ["cat", "dog"])
    add(["cat", "cat", "cat", "cat", "dog"], ["cat", "Cat."])
    # repeated answer records: leaving one out leaves out every equal record
    add([("cat", "yes", 1), ("cat", "yes", 1), ("cat", "yes", 2), ("dog", "yes", 3), ("cat", "maybe", 4),
         ("cat", "yes", 5), ("dog", "no", 6), ("cat", "yes", 7), ("dog", "yes", 8), ("cat", "yes", 9)], ["cat", "dog"])
    add([("cat", "yes", 1)] * 4 + [("dog", "yes", 2)] * 6, ["cat", "dog"])
    return cases


VQA_RANDOM_BASES = {
    "red": (["red", "Red", "red.", "RED", " red", "red!", "dark red"], "other"),
    "2": (["2", "two", "Two", "2.", "2.0", "two."], "number"),
    "yes": (["yes", "Yes", "yes.", "YES", "yes!", "yeah"], "yes/no"),
    "no": (["no", "No", "no.", "NO", "nope"], "yes/no"),
    "dog": (["dog", "a dog", "the dog", "Dog", "dogs", "The Dog."], "other"),
    "1,000": (["1,000", "1000", "one thousand", "1 000"], "number"),
    "hot dog": (["hot dog", "hot-dog", "hotdog", "Hot Dog", "hot - dog"], "other"),
    "don't": (["don't", "dont", "do not", "DONT"], "other"),
    "3.5": (["3.5", "3.50", "3,5", "3.5."], "number"),
    "st. louis": (["st. louis", "st louis", "saint louis", "St. Louis."], "other"),
}


def vqa_random_cases(rng, count):
    names = sorted(VQA_RANDOM_BASES)
    cases = []
    for _ in range(count):
        bases = rng.sample(names, rng.choice([1, 1, 2, 2, 3]))
        answer_type = VQA_RANDOM_BASES[bases[0]][1]
        if rng.random() < 0.15:
            answers = [rng.choice(VQA_RANDOM_BASES[bases[0]][0])] * 10
        else:
            answers = [rng.choice(VQA_RANDOM_BASES[rng.choice(bases)][0]) for _ in range(10)]
        if rng.random() < 0.8:
            prediction = rng.choice(VQA_RANDOM_BASES[rng.choice(bases)][0])
        else:
            prediction = rng.choice(VQA_RANDOM_BASES[rng.choice(names)][0])
        cases.append((answers, prediction, answer_type))
    return cases


LLAVA_DECORATIONS = [lambda s: s, lambda s: s.capitalize(), lambda s: s + ".", lambda s: s.upper(),
                     lambda s: " " + s + "\n", lambda s: s + "!", lambda s: "It is " + s + ".", lambda s: s.title() + "."]


def vqa_files(cases, rng, subtype, first_id):
    """The questions and annotations documents, the submission list and LLaVA answers."""
    questions, annotations, submission, llava = [], [], [], []
    for i, (answers, prediction, answer_type) in enumerate(cases):
        question_id = first_id + i * 7
        image_id = 100000 + (i * 37) % 5000
        records = []
        for k, answer in enumerate(answers):
            if isinstance(answer, tuple):
                records.append({"answer": answer[0], "answer_confidence": answer[1], "answer_id": answer[2]})
            else:
                records.append({"answer": answer, "answer_confidence": VQA_CONFIDENCES[k % 3], "answer_id": k + 1})
        texts = [r["answer"] for r in records]
        question_type = VQA_QUESTION_TYPES[i % len(VQA_QUESTION_TYPES)]
        questions.append({"image_id": image_id, "question": "Question %d about the %s?" % (i, question_type), "question_id": question_id})
        annotations.append({"question_type": question_type, "multiple_choice_answer": max(set(texts), key=lambda t: (texts.count(t), t)),
                            "answers": records, "image_id": image_id, "answer_type": answer_type, "question_id": question_id})
        submission.append({"question_id": question_id, "answer": prediction})
        llava.append({"question_id": question_id, "prompt": "Question %d\nAnswer the question using a single word or phrase." % i,
                      "text": rng.choice(LLAVA_DECORATIONS)(prediction), "answer_id": "a%d" % i, "model_id": "synthetic", "metadata": {}})
    header = {"info": {"description": "TokenScope synthetic VQAv2 cases", "version": "2.0"}, "license": {"name": "synthetic"},
              "data_subtype": subtype, "data_type": "mscoco"}
    questions_doc = dict(header, task_type="Open-Ended", questions=questions)
    annotations_doc = dict(header, annotations=annotations)
    return questions_doc, annotations_doc, submission, llava


def expand_leading_tabs(text):
    lines = []
    for line in text.splitlines(True):
        stripped = line.lstrip(" \t")
        lines.append(line[:len(line) - len(stripped)].expandtabs(8) + stripped)
    return "".join(lines)


def port_vqa_to_python3(args, folder):
    """The mechanical translation of vqa.py / vqaEval.py for Python 3, on a temporary copy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lib2to3 import refactor
    tool = refactor.RefactoringTool(refactor.get_fixers_from_package("lib2to3.fixes"))
    helper = os.path.join(folder, "helper")
    evaluation = os.path.join(folder, "evaluation")
    targets = {"PythonHelperTools/vqaTools/vqa.py": os.path.join(helper, "vqa.py"),
               "PythonEvaluationTools/vqaEvaluation/vqaEval.py": os.path.join(evaluation, "vqaEvaluation", "vqaEval.py"),
               "PythonEvaluationTools/vqaEvaluation/__init__.py": os.path.join(evaluation, "vqaEvaluation", "__init__.py")}
    for source, target in targets.items():
        with open(ref_path(args, "vqa", source), encoding="utf-8") as f:
            text = expand_leading_tabs(f.read())
        if not text.endswith("\n"):
            text += "\n"
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(str(tool.refactor_string(text, source)))
    return helper, evaluation


def run_vqa_eval(args, interpreter, helper, evaluation, ann_file, ques_file, res_file, work):
    driver = os.path.join(work, "vqa_driver.py")
    with open(driver, "w") as f:
        f.write(VQA_DRIVER)
    out_file = os.path.join(work, "vqa_out.json")
    proc = subprocess.run([interpreter, driver, helper, evaluation, ann_file, ques_file, res_file, out_file],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("vqaEval.py failed under %s:\n%s" % (interpreter, proc.stderr[-3000:]))
    with open(out_file) as f:
        return json.load(f)


def vqa_process(args, interpreter, helper, evaluation, strings, work):
    strings_file = os.path.join(work, "vqa_strings.json")
    write_json(strings_file, strings)
    driver = os.path.join(work, "vqa_driver.py")
    with open(driver, "w") as f:
        f.write(VQA_DRIVER)
    out_file = os.path.join(work, "vqa_processed.json")
    proc = subprocess.run([interpreter, driver, helper, evaluation, "--process", strings_file, "-", out_file],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("vqaEval.py processing failed under %s:\n%s" % (interpreter, proc.stderr[-3000:]))
    with open(out_file) as f:
        return json.load(f)


def vqa_expected(args, python2, py3_folders, files, work, note):
    ann_file, ques_file, res_file = files
    official = run_vqa_eval(args, python2, ref_path(args, "vqa", "PythonHelperTools/vqaTools"),
                            ref_path(args, "vqa", "PythonEvaluationTools"), ann_file, ques_file, res_file, work)
    port = run_vqa_eval(args, sys.executable, py3_folders[0], py3_folders[1], ann_file, ques_file, res_file, work)
    differences = []
    for key in ("overall",):
        if official["accuracy"][key] != port["accuracy"][key]:
            differences.append({"what": key, "python2": official["accuracy"][key], "python3_port": port["accuracy"][key]})
    for group in ("perAnswerType", "perQuestionType"):
        for name, value in sorted(official["accuracy"][group].items()):
            if port["accuracy"][group].get(name) != value:
                differences.append({"what": group + ":" + name, "python2": value, "python3_port": port["accuracy"][group].get(name)})
    for qid, value in sorted(official["evalQA"].items(), key=lambda kv: int(kv[0])):
        if port["evalQA"][qid] != value:
            differences.append({"what": "question:" + qid, "python2": value, "python3_port": port["evalQA"][qid]})
    return {
        "scorer": "GT-Vision-Lab/VQA vqaEval.py VQAEval(vqa, vqaRes, n=2).evaluate() on Python " + official["python"],
        "note": note,
        "overall": official["accuracy"]["overall"],
        "perAnswerType": official["accuracy"]["perAnswerType"],
        "perQuestionType": official["accuracy"]["perQuestionType"],
        "perQuestion": official["evalQA"],
        "printed": official["printed"],
        "python3PortDifferences": differences,
    }


def convert_vqav2_for_submission(args, llava_rows, question_ids, work):
    """Runs LLaVA's scripts/convert_vqav2_for_submission.py on the answers; returns its upload."""
    root = os.path.join(work, "vqav2_llava")
    write_jsonl(os.path.join(root, "answers", "synthetic", "ckpt", "merge.jsonl"), llava_rows)
    write_jsonl(os.path.join(root, "llava_vqav2_mscoco_test2015.jsonl"), [{"question_id": q} for q in question_ids])
    env = dict(os.environ, PYTHONPATH=os.path.join(args.ref_root, REFERENCES["llava"]["folder"]))
    proc = subprocess.run([sys.executable, ref_path(args, "llava", "scripts/convert_vqav2_for_submission.py"),
                           "--dir", root, "--ckpt", "ckpt", "--split", "synthetic"], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit("convert_vqav2_for_submission.py failed:\n" + proc.stderr[-3000:])
    with open(os.path.join(root, "answers_upload", "synthetic", "ckpt.json")) as f:
        return json.load(f)


def generate_vqav2(args, out, rng, python2, work, strings):
    py3_folders = port_vqa_to_python3(args, os.path.join(work, "vqa_py3"))
    folder = os.path.join(out, "vqav2")
    cases = vqa_hand_cases() + vqa_random_cases(rng, 220)
    for answers, prediction, _ in cases:
        strings += [a[0] if isinstance(a, tuple) else a for a in answers] + [prediction]
    questions_doc, annotations_doc, submission, llava = vqa_files(cases, rng, "val2014", 1000)
    # Later duplicates replace earlier ones in vqa.py's index and in LLaVA's converter.
    submission.insert(3, {"question_id": submission[10]["question_id"], "answer": "a replaced answer"})
    llava.insert(5, dict(llava[12], text="a replaced answer"))
    paths = {name: os.path.join(folder, name) for name in
             ("v2_OpenEnded_mscoco_val2014_questions.json", "v2_mscoco_val2014_annotations.json", "results.json", "answers_llava.jsonl")}
    write_json(paths["v2_OpenEnded_mscoco_val2014_questions.json"], questions_doc)
    write_json(paths["v2_mscoco_val2014_annotations.json"], annotations_doc)
    write_json(paths["results.json"], submission)
    write_jsonl(paths["answers_llava.jsonl"], llava)
    files = (paths["v2_mscoco_val2014_annotations.json"], paths["v2_OpenEnded_mscoco_val2014_questions.json"])
    expected = vqa_expected(args, python2, py3_folders, files + (paths["results.json"],), work,
                            "results.json scored as a submission")
    expected["cases"] = len(cases)
    write_json(os.path.join(folder, "expected_results.json"), expected, indent=1)

    strings += [row["text"] for row in llava]
    upload = convert_vqav2_for_submission(args, llava, [q["question_id"] for q in questions_doc["questions"]], work)
    upload_file = os.path.join(work, "llava_upload.json")
    write_json(upload_file, upload)
    expected = vqa_expected(args, python2, py3_folders, files + (upload_file,), work,
                            "answers_llava.jsonl through LLaVA's convert_vqav2_for_submission.py, then scored")
    expected["processedAnswers"] = {str(a["question_id"]): a["answer"] for a in upload}
    write_json(os.path.join(folder, "expected_llava.json"), expected, indent=1)

    # Halfway rounding: 1 right of 160 is exactly 0.625 %.
    tie_cases = [(["yes"] * 10, "yes" if i == 0 else "no", "yes/no") for i in range(160)]
    tie_q, tie_a, tie_s, _ = vqa_files(tie_cases, rng, "val2014", 50000)
    tie = os.path.join(folder, "tie")
    tie_paths = [os.path.join(tie, n) for n in ("v2_mscoco_val2014_annotations.json", "v2_OpenEnded_mscoco_val2014_questions.json", "results.json")]
    write_json(tie_paths[0], tie_a)
    write_json(tie_paths[1], tie_q)
    write_json(tie_paths[2], tie_s)
    expected = vqa_expected(args, python2, py3_folders, tuple(tie_paths), work, "1 of 160 right: 100 / 160 = 0.625 exactly")
    write_json(os.path.join(tie, "expected.json"), expected, indent=1)


# ---------------------------------------------------------------------------------------------
# TextVQA

TEXTVQA_POOLS = [
    ["coca cola", "Coca-Cola", "COCA COLA", "coca-cola", "coke", "Coca Cola."],
    ["3.5", "$3.50", "3.50", "3,5", "three fifty", "3.5."],
    ["1,000", "1000", "one thousand", "1 000", "1,000.", "1.000"],
    ["st. louis", "st louis", "St. Louis", "saint louis", "ST.LOUIS"],
    ["the beatles", "beatles", "The Beatles", "a beatles", "Beatles!"],
    ["it's", "its", "it is", "It's.", "it 's"],
    ["don't", "dont", "do not", "DONT", "don't!"],
    ["nike", "NIKE", "Nike.", "nike?", "nikes"],
    ["12:30", "12 30", "12.30", "1230", "12:30 pm"],
    ["www.google.com", "google.com", "google", "WWW.GOOGLE.COM", "www google com"],
    ["yes", "Yes", "yes.", "no", "No."],
    ["answering does not require reading text in the image", "unanswerable", "Unanswerable."],
    ["two", "2", "Two", "2.", "too"],
    ["hello world", "hello-world", "hello, world", "hello world?", "\"hello world\""],
    ["john's", "johns", "john 's", "John's", "jo,hn's"],
    ["ΟΔΟΣ", "οδος", "οδοσ", "café", "CAFÉ"],
]


def textvqa_cases(rng, count):
    cases = []
    for _ in range(count):
        pool = rng.choice(TEXTVQA_POOLS)
        other = rng.choice(TEXTVQA_POOLS)
        if rng.random() < 0.15:
            answers = [rng.choice(pool)] * 10
        else:
            answers = [rng.choice(pool if rng.random() < 0.75 else other) for _ in range(10)]
        prediction = rng.choice(pool if rng.random() < 0.85 else other)
        prediction = rng.choice([lambda s: s, lambda s: s + ".", lambda s: s.upper(), lambda s: " " + s + " ",
                                 lambda s: s + "\n", lambda s: s.replace(" ", ", ")])(prediction)
        cases.append((answers, prediction))
    return cases


def textvqa_prompt(shape, question):
    instruction = "Answer the question using a single word or phrase."
    if shape == 0:
        return "OCR tokens: sign, 12, coca. Question: %s Short answer:" % question
    if shape == 1:
        return "%s\nReference OCR token: sign, 12, coca\n%s" % (question, instruction)
    if shape == 2:
        return "Reference OCR token: sign, 12, coca\n%s\n%s" % (question, instruction)
    return "%s\n%s" % (question, instruction)


def generate_textvqa(args, out, rng, work, strings):
    folder = os.path.join(out, "textvqa")
    cases = textvqa_cases(rng, 170)
    for answers, prediction in cases:
        strings += answers + [prediction]
    data, llava, by_id = [], [], []
    for i, (answers, prediction) in enumerate(cases):
        image_id = "%016x" % (0x3a8ae2ef43b901 + i * 7919)
        question = ["What is written on the sign?", "What Brand is THIS?", "what number is shown", "Who made it?",
                    "WHAT TIME IS IT?", "What is the ΟΔΟΣ name?"][i % 6]
        question = "%s (%d)" % (question, i)
        data.append({"question": question, "image_id": image_id, "image_classes": ["Sign"], "flickr_original_url": "",
                     "flickr_300k_url": "", "image_width": 1024, "image_height": 768, "answers": answers,
                     "question_tokens": question.lower().split(), "question_id": 34602 + i, "set_name": "val"})
        shape = i % 4
        llava.append({"question_id": image_id, "prompt": textvqa_prompt(shape, question), "text": prediction,
                      "answer_id": "t%d" % i, "model_id": "synthetic", "metadata": {}})
        by_id.append({"question_id": 34602 + i, "text": prediction})
    # Two questions on one image that read the same once lower-cased: eval_textvqa.py's dictionary
    # keeps the last, and both predictions are scored against it.
    data.append(dict(data[0], question=data[0]["question"].upper(), question_id=34602 + len(cases),
                     answers=["sign"] * 6 + ["board"] * 4))
    by_id.append({"question_id": 34602 + len(cases), "text": "sign"})
    llava.append(dict(llava[0], text="sign", answer_id="dup"))
    order = list(range(len(llava)))
    rng.shuffle(order)  # the accuracy is summed in the answers file's order
    llava = [llava[i] for i in order]
    by_id = [by_id[i] for i in order]
    doc = {"dataset_type": "val", "dataset_name": "textvqa", "dataset_version": "0.5.1", "data": data}
    ann_file = os.path.join(folder, "TextVQA_0.5.1_val.json")
    write_json(ann_file, doc)
    write_jsonl(os.path.join(folder, "answers_llava.jsonl"), llava)
    write_jsonl(os.path.join(folder, "answers_by_id.jsonl"), by_id)

    sys.path.insert(0, os.path.join(args.ref_root, REFERENCES["llava"]["folder"]))
    m4c = importlib.import_module("llava.eval.m4c_evaluator")
    eval_textvqa = importlib.import_module("llava.eval.eval_textvqa")
    evaluate = m4c.TextVQAAccuracyEvaluator.eval_pred_list
    seen = []

    def observed(self, pred_list):
        result = evaluate(self, pred_list)
        seen.append((pred_list, result))
        return result

    m4c.TextVQAAccuracyEvaluator.eval_pred_list = observed
    try:
        with captured_stdout() as printed:
            eval_textvqa.eval_single(ann_file, os.path.join(folder, "answers_llava.jsonl"))
    finally:
        m4c.TextVQAAccuracyEvaluator.eval_pred_list = evaluate
    pred_list, accuracy = seen[-1]
    evaluator = m4c.TextVQAAccuracyEvaluator()
    with captured_stdout():
        per_question = [evaluate(evaluator, [entry]) for entry in pred_list]
    write_json(os.path.join(folder, "expected_llava.json"), {
        "scorer": "haotian-liu/LLaVA llava/eval/eval_textvqa.py eval_single() with m4c_evaluator.TextVQAAccuracyEvaluator",
        "accuracy": accuracy,
        "accuracyRepr": repr(accuracy),
        "printed": [line for line in printed.getvalue().splitlines() if line.startswith(("Samples", "Accuracy"))],
        "perPrediction": per_question,
        "processedPredictions": [evaluator.answer_processor(entry["pred_answer"]) for entry in pred_list],
    }, indent=1)

    # Predictions by TextVQA question id (no prompt): the same evaluator on the matching pairs.
    answers_of = {item["question_id"]: item["answers"] for item in data}
    pairs = [{"pred_answer": row["text"], "gt_answers": answers_of[row["question_id"]]} for row in by_id]
    with captured_stdout():
        accuracy = evaluate(evaluator, pairs)
        per_question = [evaluate(evaluator, [entry]) for entry in pairs]
    write_json(os.path.join(folder, "expected_by_id.json"), {
        "scorer": "m4c_evaluator.TextVQAAccuracyEvaluator.eval_pred_list on the predictions matched by question_id",
        "accuracy": accuracy,
        "accuracyRepr": repr(accuracy),
        "printed": ["Accuracy: {:.2f}%".format(100. * accuracy)],
        "perPrediction": per_question,
    }, indent=1)


# ---------------------------------------------------------------------------------------------
# GQA

GQA_ITEMS = [
    # (gold, structural, semantic, predictions LLaVA might write)
    ("yes", "verify", "attr", ["Yes", "Yes.", "yes..", "YES", " yes", "yes\n", "Yes, it is.", "yes"]),
    ("no", "logical", "obj", ["No", "No.", "no", "No, it is not.", "nope", "no!"]),
    ("left", "choose", "rel", ["Left", "Left.", "left side", "the left", "left"]),
    ("right", "query", "rel", ["Right.", "right", "RIGHT..."]),
    ("man", "query", "obj", ["Man", "The man.", "man", "a man", "men"]),
    ("black and white", "query", "attr", ["Black and white.", "black and white", "black & white", "Black, White"]),
    ("t-shirt", "query", "cat", ["T-Shirt.", "t-shirt", "t shirt", "tshirt"]),
    ("wood", "choose", "attr", ["Wood", "wooden", "WOOD."]),
    ("on the table", "query", "rel", ["On the table.", "on table", "table"]),
    ("οδος", "query", "global", ["ΟΔΟΣ", "ΟΔΟΣ.", "οδοσ"]),
    ("yes", "compare", "attr", ["yes", "Yes", "no"]),
    ("no", "compare", "obj", ["No.", "no"]),
]


def generate_gqa(args, out, rng, work):
    folder = os.path.join(out, "gqa")
    questions, answers = {}, []
    for i in range(120):
        gold, structural, semantic, candidates = GQA_ITEMS[i % len(GQA_ITEMS)]
        qid = str(20968379 + i * 13)
        prediction = rng.choice(candidates)
        questions[qid] = {
            "semantic": [{"operation": "select", "dependencies": [], "argument": "man (%d)" % i},
                         {"operation": "query" if structural == "query" else "verify color", "dependencies": [0], "argument": "color"}],
            "entailed": [], "equivalent": [qid],
            "question": "Synthetic %s question %d about the %s?" % (structural, i, semantic),
            "imageId": "n%d" % (161313 + i % 40),
            "isBalanced": i % 17 != 5,
            "groups": {"global": None if i % 5 == 0 else gold, "local": "14-man_color"},
            "answer": gold,
            "semanticStr": "select: man -> query: color",
            "annotations": {"answer": {}, "question": {}, "fullAnswer": {}},
            "types": {"detailed": "%s%s" % (semantic, structural.capitalize()), "semantic": semantic, "structural": structural},
            "fullAnswer": "The answer is %s." % gold,
        }
        answers.append({"question_id": qid, "prompt": "q%d\nAnswer the question using a single word or phrase." % i,
                        "text": prediction, "answer_id": "g%d" % i, "model_id": "synthetic", "metadata": {}})
    # A later answer replaces an earlier one (eval.py's dict); an answer to no question is ignored.
    answers.insert(7, dict(answers[20], text="a replaced answer"))
    answers.append({"question_id": "99999999", "prompt": "", "text": "yes", "answer_id": "x", "model_id": "synthetic", "metadata": {}})
    q_file = os.path.join(folder, "testdev_balanced_questions.json")
    a_file = os.path.join(folder, "answers_llava.jsonl")
    p_file = os.path.join(folder, "testdev_balanced_predictions.json")
    write_json(q_file, questions)
    write_jsonl(a_file, answers)
    proc = subprocess.run([sys.executable, ref_path(args, "llava", "scripts/convert_gqa_for_eval.py"), "--src", a_file, "--dst", p_file],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("convert_gqa_for_eval.py failed:\n" + proc.stderr[-3000:])
    # The converter writes with json.dump's defaults; rewrite it as this script writes files.
    with open(p_file, encoding="utf-8") as f:
        predictions = json.load(f)
    write_json(p_file, predictions)

    eval_py = ref_path(args, "gqa", "playground/data/eval/gqa/data/eval/eval.py")

    def run_eval(predictions_file):
        module_globals, printed = run_script(eval_py, ["--tier", "testdev_balanced", "--questions", q_file,
                                                      "--predictions", predictions_file], work)
        return module_globals["scores"], printed

    scores, printed = run_eval(p_file)
    per_question = {}
    for qid, question in questions.items():
        if not question["isBalanced"]:
            continue
        # Every other prediction made impossible: the accuracy is 100 / n or 0.
        masked = [{"questionId": p["questionId"], "prediction": p["prediction"] if p["questionId"] == qid else "\u0000"} for p in predictions]
        masked_file = os.path.join(work, "gqa_masked.json")
        write_json(masked_file, masked)
        single, _ = run_eval(masked_file)
        per_question[qid] = single["accuracy"] > 0
    write_json(os.path.join(folder, "expected.json"), {
        "scorer": "LLaVA scripts/convert_gqa_for_eval.py, then GQA eval.py (SHI-Labs/VCoder copy) --tier testdev_balanced",
        "accuracy": scores["accuracy"], "binary": scores["binary"], "open": scores["open"],
        "accuracyPerStructuralType": {k: list(v) for k, v in scores["accuracyPerStructuralType"].items()},
        "accuracyPerSemanticType": {k: list(v) for k, v in scores["accuracyPerSemanticType"].items()},
        "printed": [line for line in printed.splitlines() if re.match(r"^(Binary|Open|Accuracy): ", line)],
        "perQuestionCorrect": per_question,
        "normalizedPredictions": {p["questionId"]: p["prediction"] for p in predictions},
    }, indent=1)


# ---------------------------------------------------------------------------------------------
# POPE

POPE_ANSWERS = ["Yes", "No", "Yes, there is a dog in the image.", "No, there is no dog.", "No.", "no", "NO", "not sure",
                "There is not a dog.", "I don't know", "", "Yes.", "Nope", "No\nthere is", "No,", "It is not clear.",
                "yes it's not", "Not really", "There is a cat, not a dog.", "yes", "YES", "no.", "Yes. No.", "No dog. Yes.",
                "yes,no", "no,", " no", "There are no dogs", "Sure", "n o"]


def pope_rows(rng, count, first_id, label_choice):
    labels, answers = [], []
    for i in range(count):
        image = "COCO_val2014_%012d.jpg" % (310196 + i * 11)
        labels.append({"question_id": i + 1, "image": image, "text": "Is there a %s in the image?" % ["dog", "cat", "car"][i % 3],
                       "label": label_choice(i)})
        answers.append({"question_id": first_id + i, "prompt": labels[-1]["text"] + "\nAnswer the question using a single word or phrase.",
                        "text": rng.choice(POPE_ANSWERS), "answer_id": "p%d" % (first_id + i), "model_id": "synthetic", "metadata": {}})
    return labels, answers


def pope_parse(printed):
    lines = printed.splitlines()
    result = {}
    for i, line in enumerate(lines):
        if line.startswith("TP\tFP\tTN\tFN"):
            tp, fp, tn, fn = (int(v) for v in lines[i + 1].split("\t"))
            result.update(TP=tp, FP=fp, TN=tn, FN=fn)
        for key, name in (("Accuracy: ", "accuracy"), ("Precision: ", "precision"), ("Recall: ", "recall"),
                          ("F1 score: ", "f1"), ("Yes ratio: ", "yesRatio")):
            if line.startswith(key):
                result[name + "Printed"] = line[len(key):]
                result[name] = float(line[len(key):])
        if re.match(r"^\d\.\d{3}, ", line):
            result["summaryLine"] = line
    return result


def generate_pope(args, out, rng, work):
    folder = os.path.join(out, "pope")
    annotation_dir = os.path.join(folder, "coco")
    sys.path.insert(0, os.path.join(args.ref_root, REFERENCES["llava"]["folder"]))
    eval_pope = importlib.import_module("llava.eval.eval_pope")
    categories = ["adversarial", "popular", "random"]
    questions, answers_by_category = [], {}
    for c, category in enumerate(categories):
        # LLaVA's question ids run on across categories; each label file counts from 1.
        labels, answers = pope_rows(rng, 30, 1 + 1000 * c, lambda i: "yes" if (i * 7 + c) % 3 else "no")
        if category == "random":
            labels[4]["label"] = "No"  # not exactly "no": eval_pope.py counts it as yes
        write_jsonl(os.path.join(annotation_dir, "coco_pope_%s.json" % category), labels)
        questions += [{"question_id": a["question_id"], "image": l["image"], "text": l["text"], "category": category}
                      for a, l in zip(answers, labels)]
        answers_by_category[category] = answers
    # Categories interleaved in the answers file, each keeping its label file's order.
    merged, cursors = [], {c: 0 for c in categories}
    while any(cursors[c] < len(answers_by_category[c]) for c in categories):
        category = rng.choice([c for c in categories if cursors[c] < len(answers_by_category[c])])
        merged.append(answers_by_category[category][cursors[category]])
        cursors[category] += 1
    q_file = os.path.join(folder, "llava_pope_test.jsonl")
    a_file = os.path.join(folder, "answers_llava.jsonl")
    write_jsonl(q_file, questions)
    write_jsonl(a_file, merged)
    _, printed = run_script(ref_path(args, "llava", "llava/eval/eval_pope.py"),
                            ["--annotation-dir", annotation_dir, "--question-file", q_file, "--result-file", a_file], work)
    expected = {"scorer": "haotian-liu/LLaVA llava/eval/eval_pope.py --annotation-dir coco --question-file llava_pope_test.jsonl "
                          "--result-file answers_llava.jsonl", "categories": {}}
    for block in printed.split("====================================")[:-1]:
        match = re.search(r"Category: (\w+), # samples: (\d+)", block)
        result = pope_parse(block)
        result["samples"] = int(match.group(2))
        expected["categories"][match.group(1)] = result
    # The per-answer reading: eval_pope() overwrites each answer's text with "yes" or "no".
    for category in categories:
        rows = [dict(a) for a in answers_by_category[category]]
        with captured_stdout():
            eval_pope.eval_pope(rows, os.path.join(annotation_dir, "coco_pope_%s.json" % category))
        expected["categories"][category]["answersReadAs"] = [r["text"] for r in rows]
    write_json(os.path.join(folder, "expected.json"), expected, indent=1)

    # eval_pope() on its own (answers paired with labels by position), degenerate cases included.
    degenerate = {
        "all_no": (lambda i: "yes" if i % 2 else "no", ["No", "no.", "not sure", "No, none."]),
        "no_yes_label": (lambda i: "no", ["Yes", "No", "yes", "Nope"]),
        "f1_zero": (lambda i: "yes" if i % 2 else "no", None),
        "extra_answers": (lambda i: "yes" if i % 3 else "no", POPE_ANSWERS),
    }
    cases = {}
    for name, (label_choice, texts) in sorted(degenerate.items()):
        labels, answers = pope_rows(rng, 12, 1, label_choice)
        if texts is not None:
            for a in answers:
                a["text"] = rng.choice(texts)
        if name == "f1_zero":  # every yes-label answered no, every no-label answered yes
            for a, l in zip(answers, labels):
                a["text"] = "No" if l["label"] == "yes" else "Yes"
        if name == "extra_answers":  # three answers more than labels: zip() drops them, the yes ratio counts them
            answers += [dict(answers[0], question_id=100 + k, text=t) for k, t in enumerate(["Yes", "No", "Yes"])]
        label_file = os.path.join(folder, name, "coco_pope_%s.json" % name)
        write_jsonl(label_file, labels)
        write_jsonl(os.path.join(folder, name, "answers_llava.jsonl"), answers)
        rows = [dict(a) for a in answers]
        with captured_stdout() as printed:
            try:
                eval_pope.eval_pope(rows, label_file)
                error = None
            except ZeroDivisionError as e:
                error = "ZeroDivisionError: %s" % e
        result = pope_parse(printed.getvalue())
        result["raises"] = error
        result["answersReadAs"] = [r["text"] for r in rows]
        cases[name] = result
    write_json(os.path.join(folder, "expected_eval_pope.json"),
               {"scorer": "eval_pope.eval_pope(answers, label_file)", "cases": cases}, indent=1)


# ---------------------------------------------------------------------------------------------
# NLVR2

PROCESSING_EXTRAS = [
    "", " ", "a", "the", "an", "A", "The Cat", "1,2", "1, 2", "1 ,2", "1,,2", "a,b", "a, b", "x-y", "x -y", "x- y",
    "3.14.", "3.14", "3. 14", "..", ". 5", "5.", "5 .", "e.g.", "i.e. that", "u.s.", "don't stop", "Don't Stop",
    "hes", "he's", "thats it", "THATS IT", "it's", "'s", "john's car", "johns car", "o'clock", "I'm", "im", "i'm",
    "one two three four five six seven eight nine ten", "eleven", "none of them", "zero-one", "two,000", "2,000,000",
    "100%", "$5", "#1", "a&b", "a*b", "a|b", "~x", "^y", "x:y", "x;y", "x; y", "(x)", "( x )", "x)", "[1]", "{a}",
    "back\\slash", "\\", "\n", "tab\there", "new\nline", "\u00a0nbsp", "x\u2003y", "a\u3000b", "ΣΑΣ", "ΑΣ.", "Σ", "İ", "ß", "ǅ",
    "ﬁ", "Ω", "K", "١٢٣", "١,٢", "١.٢", "٣.", "３,５", "𝟏,𝟐", "𝟏.", "?", "!", "?!", "yes?", "no!", "hm...", "Mr. Smith",
    "St.Louis", "1.5x", "x.5", "2.0.", "v1.2.3", "www.x.com", "a/b/c", "a / b", "a_b", "_a", "a-", "-a", "- a",
]


def generate_processing(args, out, python2, work, strings):
    """The official answer processing on every string the suites use, and a few more."""
    seen, unique = set(), []
    for text in strings + PROCESSING_EXTRAS:
        if text not in seen:
            seen.add(text)
            unique.append(text)
    vqa = vqa_process(args, python2, ref_path(args, "vqa", "PythonHelperTools/vqaTools"),
                      ref_path(args, "vqa", "PythonEvaluationTools"), unique, work)
    m4c = importlib.import_module("llava.eval.m4c_evaluator")
    processor = m4c.EvalAIAnswerProcessor()
    eval_pope = importlib.import_module("llava.eval.eval_pope")
    rows = [{"question_id": i, "text": t} for i, t in enumerate(unique)]
    label_file = os.path.join(work, "pope_labels.jsonl")
    write_jsonl(label_file, [{"question_id": i, "label": "yes"} for i in range(len(unique))])
    with captured_stdout():
        eval_pope.eval_pope(rows, label_file)
    write_json(os.path.join(out, "processing.json"), {
        "scorers": {"vqaEval": "vqaEval.py VQAEval.processDigitArticle(processPunctuation(s)) on Python 2.7",
                    "evalAi": "m4c_evaluator.py EvalAIAnswerProcessor()(s)",
                    "popeReadsNo": "eval_pope.py eval_pope(): the text each answer is overwritten with"},
        "strings": unique,
        "vqaEval": vqa,
        "evalAi": [processor(t) for t in unique],
        "popeReadsNo": [r["text"] == "no" for r in rows],
    }, indent=1)


def generate_nlvr2(args, out, rng, work):
    folder = os.path.join(out, "nlvr2")
    examples, csv_lines, jsonl = [], [], []
    predictions = ["True", "False", "true", "FALSE", " True", "True ", "yes", "1", "tRuE", "False,0.31"]
    for s in range(14):
        set_id = 850 + s * 3
        for sentence in range(2 if s % 3 else 1):
            for pair in range(rng.choice([1, 2, 3, 4])):
                identifier = "dev-%d-%d-%d" % (set_id, pair, sentence)
                label = rng.choice(["True", "False"])
                examples.append({"validation": {"61": label}, "sentence": "Synthetic sentence %d.%d." % (s, sentence),
                                 "left_url": "", "writer": "61", "label": label, "right_url": "", "synset": "beer bottle",
                                 "query": "some beer bottles%d" % s, "identifier": identifier, "extra_validations": {}})
                if rng.random() < 0.7:
                    prediction = label
                else:
                    prediction = rng.choice(predictions)
                csv_lines.append("%s,%s" % (identifier, prediction))
                # JSON keeps what a CSV line loses to strip(): only the CSV-stable texts go there.
                jsonl.append({"question_id": identifier, "text": prediction.split(",")[0] if prediction != "True " else "True"})
    csv_lines.append("dev-9999-0-0,True")  # a prediction for no example: metrics.py ignores it
    labels_file = os.path.join(folder, "dev.json")
    csv_file = os.path.join(folder, "predictions.csv")
    write_jsonl(labels_file, examples)
    with open(csv_file, "w") as f:
        f.write("\n".join(csv_lines) + "\n")
    write_jsonl(os.path.join(folder, "answers_llava.jsonl"), jsonl)
    metrics_py = ref_path(args, "nlvr", "nlvr2/eval/metrics.py")

    def run(pred_file, label_file):
        _, printed = run_script(metrics_py, [pred_file, label_file], work)
        values = dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)
        return values

    overall = run(csv_file, labels_file)
    jsonl_csv = os.path.join(work, "nlvr2_from_jsonl.csv")
    with open(jsonl_csv, "w") as f:
        f.write("".join("%s,%s\n" % (row["question_id"], row["text"]) for row in jsonl))
    from_jsonl = run(jsonl_csv, labels_file)
    per_example = {}
    for example, line in zip(examples, csv_lines):
        one_label = os.path.join(work, "nlvr2_one.json")
        one_pred = os.path.join(work, "nlvr2_one.csv")
        write_jsonl(one_label, [example])
        with open(one_pred, "w") as f:
            f.write(line + "\n")
        per_example[example["identifier"]] = float(run(one_pred, one_label)["accuracy"]) == 1.0
    write_json(os.path.join(folder, "expected.json"), {
        "scorer": "lil-lab/nlvr nlvr2/eval/metrics.py predictions.csv dev.json",
        "accuracyPrinted": overall["accuracy"], "consistencyPrinted": overall["consistency"],
        "accuracy": float(overall["accuracy"]), "consistency": float(overall["consistency"]),
        "llavaAnswers": {"accuracyPrinted": from_jsonl["accuracy"], "consistencyPrinted": from_jsonl["consistency"]},
        "perExampleCorrect": per_example,
    }, indent=1)


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref-root", default="/work/ref", help="folder holding VQA/, LLaVA/, gqa-eval/, nlvr/")
    parser.add_argument("--python2", help="a Python 2.7 interpreter for vqaEval.py")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "data", "scoring"))
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    for key, reference in REFERENCES.items():
        for relative in reference["files"]:
            if not os.path.isfile(ref_path(args, key, relative)):
                sys.exit("missing %s (%s at %s); see tests/data/scoring/README.md" % (ref_path(args, key, relative),
                                                                                        reference["repository"], reference["commit"]))
    python2, python2_version = find_python2(args.python2)
    rng = random.Random(SEED)
    for name in ("vqav2", "textvqa", "gqa", "pope", "nlvr2"):
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    strings = []
    with tempfile.TemporaryDirectory() as work:
        generate_vqav2(args, out, rng, python2, work, strings)
        generate_textvqa(args, out, rng, work, strings)
        generate_gqa(args, out, rng, work)
        generate_pope(args, out, rng, work)
        generate_nlvr2(args, out, rng, work)
        generate_processing(args, out, python2, work, strings + POPE_ANSWERS)
    write_json(os.path.join(out, "references.json"), {
        "generator": "tools/reference/gen_scoring_cases.py",
        "seed": SEED,
        "python2": python2_version,
        "python3": sys.version.split()[0],
        "references": {key: {"repository": r["repository"], "commit": r["commit"],
                             "files": {f: sha256(ref_path(args, key, f)) for f in r["files"]}}
                       for key, r in REFERENCES.items()},
    }, indent=1)
    print("wrote", out)


if __name__ == "__main__":
    main()
