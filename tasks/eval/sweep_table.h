#pragma once

// The accuracy-versus-throughput sweep as a table: what `tokenscope-cli eval --sweep` writes to
// sweep.csv and what the window's Trade-off chart reads (a model folder may carry one). Torch-free,
// no Qt; pure functions, any thread.
//
// sweep.csv: a header line naming the columns, then one row per evaluated configuration, rows of a
// method in knob order (from the lightest reduction to the strongest):
//   method          the method's registry id: none | pumer | tome | smres | random | uniform | dynamicvit
//   settings        describe() of the configuration, quoted ("pumer reference L2,5,8 p0.1 r0.3 t0.2")
//   knob            the swept value in words ("keep 0.5", "r 8", "p0.1 r0.3 t0.2"; "" for none)
//   accuracy        fraction of correct answers, 0..1
//   examples_per_s  examples / (preprocess + forward time) of the timed pass, warm-up excluded
//   speedup         examples_per_s / that of none in the same sweep
//   agreement       fraction of answers equal to the unreduced model's, 0..1
//   image_tokens    image tokens per layer, mean over the layers (image CLS included), example 0
//   examples, batch, seed   what was evaluated: the count, the batch size, the split seed
// Reading finds columns by name (extra columns are ignored); method, accuracy and examples_per_s
// are required.

#include <cstdint>
#include <string>
#include <vector>

namespace tokenscope {

struct SweepRow {
    std::string method;
    std::string settings;
    std::string knob;
    double accuracy = 0;
    double examplesPerSecond = 0;
    double speedup = 1;
    double agreement = 1;
    double imageTokens = 0;
    int64_t examples = 0;
    int batch = 0;
    uint64_t seed = 0;
};

// The header's column names, in the order written.
const std::vector<std::string>& sweepCsvColumns();
std::string sweepCsvText(const std::vector<SweepRow>& rows);
// Throws Error naming the path when it cannot be written.
void writeSweepCsv(const std::string& path, const std::vector<SweepRow>& rows);
// Throws Error naming fileName and the line: a missing required column, a bad number, a row with
// too few fields, no rows.
std::vector<SweepRow> parseSweepCsv(const std::string& text, const std::string& fileName);
std::vector<SweepRow> readSweepCsv(const std::string& path);

// The methods of a sweep in first-appearance order (the order of the series in charts).
std::vector<std::string> sweepMethods(const std::vector<SweepRow>& rows);

}  // namespace tokenscope
