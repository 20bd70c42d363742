// tokenscope-cli bench: throughput, latency and memory per method and batch on synthetic inputs.
// Methods are measured in alternating rounds (every method once per round), so a slow spell of a
// shared machine hits all of them; each ratio to the first method is taken inside a round.

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "common/error.h"
#include "engine/timeline.h"
#include "engine/trace_json.h"
#include "engine/version.h"

namespace tokenscope::cli {
namespace {

double median(std::vector<double> values) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const auto n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::string joinInts(const std::vector<int>& values) {
    std::string out;
    for (std::size_t i = 0; i < values.size(); ++i) out += (i ? " " : "") + std::to_string(values[i]);
    return out;
}

std::string joinMiB(const std::vector<int64_t>& values) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(2);
    for (std::size_t i = 0; i < values.size(); ++i) out << (i ? " " : "") << toMiB(std::max<int64_t>(values[i], 0));
    return out.str();
}

nlohmann::json machineJson(const MachineInfo& m) {
    return {{"cpu", m.cpu}, {"cores", m.cores}, {"intra_op_threads", m.intraOpThreads}, {"blas", m.blas},
            {"blas_threading", m.blasThreading}, {"libtorch", m.torchVersion}, {"device", m.device}};
}

// One (method, batch) over all rounds.
struct Series {
    BenchRow first;                    // the first round: tokens, memory, timeline
    std::vector<double> perRound;      // examples/s
    std::vector<double> p50PerRound, p95PerRound;
    std::vector<double> ratioPerRound;  // to the first method's same round
    int iterations = 0;
    bool outOfMemory = false;
    std::string error;
};

// bench-generate's defaults where `bench` shares an option name but means other figures.
std::string generationDefault(const std::string& name) {
    if (name == "batch") return "1,2,4";
    if (name == "image-size") return "600x600";
    if (name == "method") return "hired";
    if (name == "budgets") return "full,0.4,0.2,0.1";
    if (name == "prompt-tokens") return "16";
    if (name == "max-new-tokens") return "15";
    if (name == "runs") return "3";
    return {};
}

int runBench(const Arguments& args) {
    auto engine = openModel(args);
    // One bench for every family: a model that generates reports bench-generate's figures.
    if (engine->capabilities().generates) {
        for (const char* viltOnly : {"protocol", "autograd", "trace-json", "with-trace", "rounds", "seconds", "text-length"})
            if (args.has(viltOnly)) throw UsageError(std::string("--") + viltOnly + " applies to models that answer from labels; "
                                                     + engine->summary().config.architecture + " generates");
        return benchGeneration(*engine, args, [&](const std::string& name) {
            const auto fallback = generationDefault(name);
            return args.has(name) || fallback.empty() ? args.value(name) : fallback;
        });
    }
    for (const char* generationOnly : {"budgets", "prompt-tokens", "max-new-tokens", "runs"})
        if (args.has(generationOnly))
            throw UsageError(std::string("--") + generationOnly + " applies to models that generate (LLaVA); " +
                             engine->summary().config.architecture + " answers from labels");
    const auto batches = parseIntList(args.value("batch"), "batch");
    std::stringstream methodList(args.value("method"));
    std::vector<std::string> methods;
    for (std::string m; std::getline(methodList, m, ',');) methods.push_back(m);
    if (methods.empty()) throw UsageError("--method needs at least one method");
    const double seconds = std::stod(args.value("seconds"));
    const auto protocolName = args.value("protocol");
    const bool paper = protocolName == "paper";
    if (!paper && protocolName != "window") throw UsageError("--protocol must be window or paper");
    const bool json = args.value("format") == "json";
    if (!json && args.value("format") != "csv") throw UsageError("--format must be csv or json");
    const int rounds = paper ? 1 : args.intValue("rounds", 1, 1000);
    const auto memoryProtocol = paper || args.has("autograd") ? MemoryProtocol::Autograd : MemoryProtocol::Inference;
    const auto& summary = engine->summary();
    const auto machine = machineInfo(args.value("device") == "cuda");
    if (const auto advice = blasAdvice(machine); !advice.empty()) std::cerr << "note: " << advice << "\n";

    BenchRequest base;
    base.seconds = (paper ? std::max(seconds, 30.0) : seconds) / rounds;
    base.imageSize = args.intValue("image-size", 32, 4096);
    base.textLength = args.intValue("text-length", 2, 512);
    base.trace = args.has("with-trace");
    base.protocol = memoryProtocol;

    // (method index, batch index) -> series, filled round by round.
    std::vector<std::vector<Series>> all(methods.size(), std::vector<Series>(batches.size()));
    std::vector<MethodSettings> settings;
    for (const auto& name : methods) settings.push_back(methodFromArgs(args, name, methodTargetOf(*engine)));
    for (std::size_t bi = 0; bi < batches.size(); ++bi) {
        if (paper) {
            // PuMer's protocol: grow the batch until it no longer fits, keep the best throughput.
            for (std::size_t mi = 0; mi < methods.size(); ++mi) {
                BenchRequest request = base;
                request.method = settings[mi];
                BenchRow best;
                for (int batch = 1; batch <= args.intValue("max-batch", 1, 1 << 20); batch *= 2) {
                    request.batch = batch;
                    const auto row = engine->benchmark(request);
                    if (row.outOfMemory) {
                        std::cerr << "batch " << batch << ": out of memory, stopping\n";
                        break;
                    }
                    if (row.examplesPerSecond > best.examplesPerSecond) best = row;
                }
                auto& s = all[mi][bi];
                s.first = best;
                s.perRound = {best.examplesPerSecond};
                s.p50PerRound = {best.latencyP50Ms};
                s.p95PerRound = {best.latencyP95Ms};
                s.iterations = best.iterations;
            }
            break;  // the paper protocol chooses its own batch
        }
        for (int round = 0; round < rounds; ++round) {
            for (std::size_t mi = 0; mi < methods.size(); ++mi) {
                auto& s = all[mi][bi];
                if (s.outOfMemory) continue;
                BenchRequest request = base;
                request.method = settings[mi];
                request.batch = batches[bi];
                request.firstOfSeries = round == 0;
                const auto row = engine->benchmark(request);
                if (row.outOfMemory) {
                    s.outOfMemory = true;
                    s.error = row.error;
                    if (round == 0) s.first = row;
                    continue;
                }
                if (round == 0) s.first = row;
                s.perRound.push_back(row.examplesPerSecond);
                s.p50PerRound.push_back(row.latencyP50Ms);
                s.p95PerRound.push_back(row.latencyP95Ms);
                s.iterations += row.iterations;
                const auto& reference = all[0][bi];
                if (mi > 0 && reference.perRound.size() == s.perRound.size() && reference.perRound.back() > 0)
                    s.ratioPerRound.push_back(row.examplesPerSecond / reference.perRound.back());
            }
        }
    }

    nlohmann::json rows = nlohmann::json::array();
    if (!json) {
        std::cerr << "machine: " << machine.cpu << ", " << machine.cores << " cores, " << machine.intraOpThreads
                  << " threads, BLAS " << machine.blas << ", LibTorch " << machine.torchVersion << ", " << machine.device << "\n";
        std::cout << "model,device,dtype,method,settings,batch,rounds,iterations,examples_per_s,examples_per_s_min,"
                     "examples_per_s_max,ratio_to_first,token_layer_ratio,latency_p50_ms,latency_p95_ms,memory_protocol,"
                     "weights_mib,activations_peak_mib,activations_peak_layer,rss_peak_mib,layer_activation_peak_mib,"
                     "image_tokens_per_layer,text_tokens_per_layer,traced,note\n";
    }
    std::vector<std::pair<std::string, std::vector<TimelineSpan>>> timelines;
    for (std::size_t bi = 0; bi < batches.size(); ++bi) {
        for (std::size_t mi = 0; mi < methods.size(); ++mi) {
            const auto& s = all[mi][bi];
            const auto& row = s.first;
            const auto& first = all[0][bi].first;
            const double ratio = mi == 0 ? 1.0 : median(s.ratioPerRound);
            const double tokenRatio = row.tokenLayers > 0 ? first.tokenLayers / row.tokenLayers : 0.0;
            const std::string note = s.outOfMemory ? "out of memory: " + s.error : paper ? "best batch (paper protocol)" : "";
            const auto& memory = row.memory;
            if (!row.timeline.empty())
                timelines.push_back({describe(row.method) + " batch " + std::to_string(row.batch), row.timeline});
            if (json) {
                nlohmann::json r = {{"model", summary.source}, {"device", args.value("device")}, {"dtype", args.value("dtype")},
                                    {"method", row.method.method()}, {"settings", describe(row.method)},
                                    {"batch", row.batch}, {"rounds", s.perRound.size()}, {"iterations", s.iterations},
                                    {"examples_per_s", median(s.perRound)},
                                    {"examples_per_s_median", median(s.perRound)},
                                    {"examples_per_s_min", s.perRound.empty() ? 0.0 : *std::min_element(s.perRound.begin(), s.perRound.end())},
                                    {"examples_per_s_max", s.perRound.empty() ? 0.0 : *std::max_element(s.perRound.begin(), s.perRound.end())},
                                    {"examples_per_s_per_round", s.perRound},
                                    {"first_method", describe(first.method)},
                                    {"ratio_to_first", ratio},
                                    {"ratio_to_first_per_round", s.ratioPerRound},
                                    {"token_layers", row.tokenLayers},
                                    {"token_layer_ratio", tokenRatio},
                                    {"latency_p50_ms", median(s.p50PerRound)}, {"latency_p95_ms", median(s.p95PerRound)},
                                    {"image_tokens_per_layer", row.imageTokensPerLayer},
                                    {"text_tokens_per_layer", row.textTokensPerLayer}, {"traced", args.has("with-trace")},
                                    {"note", note}};
                r.update(memoryToJson(memory));
                rows.push_back(std::move(r));
                continue;
            }
            std::cout << '"' << summary.source << "\"," << args.value("device") << "," << args.value("dtype") << ","
                      << row.method.method() << ",\"" << describe(row.method) << "\"," << row.batch << ","
                      << s.perRound.size() << "," << s.iterations << "," << std::fixed << std::setprecision(3)
                      << median(s.perRound) << ","
                      << (s.perRound.empty() ? 0.0 : *std::min_element(s.perRound.begin(), s.perRound.end())) << ","
                      << (s.perRound.empty() ? 0.0 : *std::max_element(s.perRound.begin(), s.perRound.end())) << ","
                      << ratio << "," << tokenRatio << "," << std::setprecision(2) << median(s.p50PerRound) << ","
                      << median(s.p95PerRound) << "," << memoryProtocolName(memory.protocol) << "," << toMiB(memory.weightsBytes)
                      << "," << toMiB(std::max<int64_t>(memory.activationsPeakBytes, 0)) << "," << memory.activationsPeakLayer
                      << "," << toMiB(memory.rssPeakBytes) << "," << joinMiB(memory.layerActivationPeakBytes) << ","
                      << joinInts(row.imageTokensPerLayer) << "," << joinInts(row.textTokensPerLayer) << ","
                      << (args.has("with-trace") ? "yes" : "no") << "," << note << std::endl;
        }
    }
    if (json) std::cout << nlohmann::json{{"machine", machineJson(machine)}, {"rows", rows}}.dump(2) << "\n";
    if (args.has("trace-json")) {
        const auto path = args.value("trace-json");
        std::ofstream out(path);
        if (!out) throw Error(path + ": cannot open for writing");
        out << chromeTraceJson(timelines) << "\n";
        if (!out) throw Error(path + ": write failed");
        std::cerr << "wrote " << path << " (" << timelines.size() << " runs; open in https://ui.perfetto.dev or chrome://tracing)\n";
    }
    return 0;
}

}  // namespace

std::vector<Command> benchCommands() {
    return {
        {"bench", "throughput, latency and memory per method and batch, methods in alternating rounds (synthetic inputs, CSV or JSON); a model that generates (LLaVA) gets bench-generate's figures",
         withModel(withMethod({{"batch", "LIST", "1,8,32", "batch sizes"},
                               {"seconds", "S", "5", "timed seconds per (method, batch), split over the rounds (paper protocol: at least 30)"},
                               {"rounds", "N", "3", "rounds: every method once per round, ratios to the first method taken inside a round"},
                               {"protocol", "window|paper", "window", "paper: autograd recording, batch doubled until out of memory, the best reported"},
                               {"autograd", "", "", "forwards record the autograd graph (csarron/PuMer's bench.py protocol); default: inference"},
                               {"max-batch", "N", "1024", "paper protocol: largest batch tried"},
                               {"image-size", "PX", "384", "side of the synthetic square image"},
                               {"text-length", "N", "16", "question length in tokens"},
                               {"format", "csv|json", "csv", "output format"},
                               {"trace-json", "FILE", "", "write per-layer and per-stage timings of one forward per row as Chrome trace events (Perfetto, chrome://tracing)"},
                               {"with-trace", "", "", "also time layers and build traces in the timed loop (measures the cost of tracing)"},
                               // A model that generates (LLaVA): bench-generate's figures and options.
                               {"budgets", "LIST", "full,0.4,0.2,0.1", "generating models: budgets to measure ('full' = the unreduced model)"},
                               {"prompt-tokens", "N", "16", "generating models: text tokens around the image"},
                               {"max-new-tokens", "N", "15", "generating models: tokens generated per sequence (no early stop)"},
                               {"runs", "N", "3", "generating models: timed runs after one warm-up (medians reported)"}})),
         runBench},
    };
}

}  // namespace tokenscope::cli
