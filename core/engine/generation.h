#pragma once

// LLaVA-NeXT generation through the engine facade: the request, the streamed answer, the trace of
// what HiRED (or a baseline) did to every tile, timings and memory. Torch-free plain data on purpose (the
// window includes it through engine/engine.h). References: transformers models/llava_next/modeling_llava_next.py
// and HiRED's patched copy of it (hasanar1f/HiRED).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/memory.h"
#include "engine/trace.h"
#include "methods/method_settings.h"
#include "reduce/reducer_settings.h"

#include "image/pil_resample.h"

namespace tokenscope {

// One answer about one image.
struct GenerateRequest {
    ImageU8 image;        // RGB
    std::string prompt;   // the user's question, put into the model's chat template; with
                          // rawPrompt the whole prompt, which must hold "<image>" once
    bool rawPrompt = false;
    MethodSettings method;  // a method serving LLaVA (core/methods): none, hired, uniform, random
    int maxNewTokens = 128;
    bool attentionMaps = true;  // fill the CLS attention maps of every partition (cheap: one row)
};

struct GenerateTimings {
    double preprocessMs = 0;  // AnyRes resize, crops, normalisation
    double visionMs = 0;      // CLIP tower, projector, HiRED / baseline selection, packing
    double prefillMs = 0;     // the language model over the prompt, up to the first token
    double ttftMs = 0;        // time to first token: preprocess + vision + prefill
    double decodeMs = 0;      // the cached decode steps after the first token
    double totalMs = 0;       // preprocess to the last token
    double decodeTokensPerSecond = 0;  // (generated - 1) / decode time, per sequence
    double hiredTokensPerSecond = 0;   // HiRED's definition: generated tokens / total time
};

struct GenerateResult {
    std::string text;               // the answer, decoded
    std::vector<int64_t> tokenIds;  // generated ids (the stop token included when one came)
    bool stoppedAtEos = false;
    std::string prompt;             // the prompt as formatted, "<image>" in place of the visual tokens
    int promptTokens = 0;           // language-model input tokens, visual tokens included
    int visualTokens = 0;           // = trace.budget.deliveredTokens
    MethodSettings method;          // as the request set it
    Trace trace;                    // the image's regions; vision (CLS attention) and projector (select, unpad) layers
    GenerateTimings timings;
    MemoryReport memory;
};

// Called on the generating thread for every new token with the text it adds (may be empty while
// a multi-byte character is incomplete, and is empty for the stop token). Return false to stop
// after this token. Bytes still held back after the last token come in one more call with
// tokenId -1. The deltas concatenated equal GenerateResult::text.
using GenerateCallback = std::function<bool(const std::string& delta, int64_t tokenId)>;

// A timed generation on synthetic inputs (random pixels, a fixed prompt), HiRED's protocol
// (hasanar1f/HiRED run_HiRED_sys_report.py): `runs` timed repetitions after one warm-up, no early stop.
struct GenerationBenchRequest {
    MethodSettings method;
    int batch = 1;
    int imageHeight = 600, imageWidth = 600;
    int promptTokens = 16;  // text tokens around the image
    int maxNewTokens = 15;
    int runs = 3;
    uint64_t seed = 0;
};

struct GenerationBenchRow {
    MethodSettings method;
    int batch = 0;
    int runs = 0;
    int visualTokensUnreduced = 0, visualTokensKept = 0;  // per image (image 0)
    int promptTokens = 0;                // language-model input per sequence (longest)
    int newTokens = 0;                   // per sequence
    double visionMs = 0, prefillMs = 0;  // medians over the runs
    double ttftMs = 0;                   // median
    double decodeTokensPerSecond = 0;    // batch · (new - 1) / decode time, median
    double endToEndMs = 0;               // median
    double hiredTokensPerSecond = 0;     // batch · new / end-to-end time, median
    MemoryReport memory;                  // of the last run
    bool outOfMemory = false;
    std::string error;
};

}  // namespace tokenscope
