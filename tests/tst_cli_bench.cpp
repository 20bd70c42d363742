// tokenscope-cli bench end to end: the JSON and CSV columns (throughput over rounds, ratios taken
// inside a round, memory by kind and per layer, the protocol, the machine), the Chrome trace file,
// and usage errors. Timings are not asserted (they belong to benchmarks); their presence and shape are.

#include <QTemporaryDir>
#include <QTest>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli_process.h"
#include "support/test_paths.h"

using tokenscope::test::dataPath;

namespace {

tokenscope::test::CliRun cli(const QStringList& args) { return tokenscope::test::runCli(args, 180000); }

// The fixture ViLT (2 layers, width 32) at 160 pixels (25 patches, so PuMer prunes 3): fast.
QStringList benchArgs(const QStringList& extra) {
    QStringList args{"bench", "--model", QString::fromStdString(dataPath("vilt")), "--image-size", "160", "--batch", "2",
                     "--seconds", "0.2", "--text-length", "8", "--method", "none,pumer", "--layers", "0"};
    return args + extra;
}

nlohmann::json parse(const QString& text) { return nlohmann::json::parse(text.toStdString()); }

}  // namespace

class TestCliBench : public QObject {
    Q_OBJECT
private slots:
    void jsonRowsCarryRoundsMemoryAndMachine() {
        const auto run = cli(benchArgs({"--rounds", "2", "--format", "json"}));
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto doc = parse(run.out);
        const auto& machine = doc.at("machine");
        for (const char* key : {"cpu", "cores", "intra_op_threads", "blas", "blas_threading", "libtorch", "device"})
            QVERIFY2(machine.contains(key), key);
        QVERIFY(machine.at("cores").get<int>() >= 1);
        const auto& rows = doc.at("rows");
        QCOMPARE(rows.size(), std::size_t{2});
        QCOMPARE(rows[0].at("method").get<std::string>(), std::string("none"));
        QCOMPARE(rows[1].at("method").get<std::string>(), std::string("pumer"));
        for (const auto& row : rows) {
            QCOMPARE(row.at("rounds").get<int>(), 2);
            QCOMPARE(row.at("examples_per_s_per_round").size(), std::size_t{2});
            const auto low = row.at("examples_per_s_min").get<double>(), mid = row.at("examples_per_s_median").get<double>(),
                       high = row.at("examples_per_s_max").get<double>();
            QVERIFY(low > 0 && low <= mid && mid <= high);
            QCOMPARE(row.at("examples_per_s").get<double>(), mid);
            QCOMPARE(row.at("memory_protocol").get<std::string>(), std::string("inference"));
            QCOMPARE(row.at("memory_counter").get<std::string>(), std::string("cpu-counting-allocator"));
            QVERIFY(row.at("weights_mib").get<double>() > 0);
            QVERIFY(row.at("activations_peak_mib").get<double>() > 0);
            QVERIFY(row.at("rss_peak_mib").get<double>() > row.at("weights_mib").get<double>());
            QCOMPARE(row.at("layer_activation_peak_mib").size(), std::size_t{2});  // one per layer
            QVERIFY(row.contains("activations_peak_layer") && row.contains("activations_peak_where"));
            QCOMPARE(row.at("kv_cache_mib").get<double>(), 0.0);
        }
        // The first method is the reference of the ratios; PuMer removes token-layers.
        QCOMPARE(rows[0].at("ratio_to_first").get<double>(), 1.0);
        QCOMPARE(rows[1].at("ratio_to_first_per_round").size(), std::size_t{2});
        QCOMPARE(rows[0].at("token_layer_ratio").get<double>(), 1.0);
        QVERIFY(rows[1].at("token_layer_ratio").get<double>() > 1.0);
        QCOMPARE(rows[1].at("first_method").get<std::string>(), std::string("none"));
    }

    // The README's "--method none,pumer --preset vqav2": the preset belongs to the methods that have
    // presets; the one of the loaded model's family is taken (ViLT's paper settings here, METER's
    // released ones on a METER model).
    void presetAppliesToTheMethodsThatHaveIt() {
        const QStringList common{"bench", "--batch", "1", "--seconds", "0.1", "--text-length", "8",
                                 "--method", "none,pumer", "--preset", "vqav2", "--format", "json"};
        const auto vilt = cli(common + QStringList{"--arch", "vilt-b32", "--image-size", "96"});
        QVERIFY2(vilt.exitCode == 0, qPrintable(vilt.err));
        const auto doc = parse(vilt.out);
        const auto& rows = doc.at("rows");
        QCOMPARE(rows[0].at("settings").get<std::string>(), std::string("none"));
        QCOMPARE(rows[1].at("settings").get<std::string>(), std::string("pumer reference L2,5,8 p0.1 r0.3 t0.2"));
        // METER's released preset names fusion layers 0-3 of 6; meter-tiny has 2 (0,1,2,3 -> 0,0,1,1).
        const auto meter = cli(common + QStringList{"--arch", "meter-tiny", "--image-size", "64"});
        QVERIFY2(meter.exitCode == 0, qPrintable(meter.err));
        QCOMPARE(parse(meter.out).at("rows")[1].at("settings").get<std::string>(),
                 std::string("pumer reference L0,1 p0.2 r0.2 t0.2"));
        // On a shallower model the preset's layers sit at the same relative depth (12 -> 2 layers:
        // 2,5,8 -> round(2·2/12), round(5·2/12), round(8·2/12) = 0,1,1), with a note.
        const auto shallow = cli({"bench", "--model", QString::fromStdString(dataPath("vilt")), "--image-size", "96", "--batch",
                                  "1", "--seconds", "0.1", "--method", "pumer", "--preset", "vqav2", "--format", "json"});
        QVERIFY2(shallow.exitCode == 0, qPrintable(shallow.err));
        QCOMPARE(parse(shallow.out).at("rows")[0].at("settings").get<std::string>(),
                 std::string("pumer reference L0,1 p0.1 r0.3 t0.2"));
        QVERIFY2(shallow.err.contains("on this 2-layer model they sit at the same depth: 0,1"), qPrintable(shallow.err));
        // A method with presets still needs a preset it has.
        const auto unknown = cli({"bench", "--arch", "vilt-b32", "--method", "pumer", "--preset", "coco"});
        QCOMPARE(unknown.exitCode, 2);
        QVERIFY2(unknown.err.contains("unknown pumer preset 'coco'"), qPrintable(unknown.err));
    }

    void autogradProtocol() {
        const auto inference = cli(benchArgs({"--rounds", "1", "--format", "json"}));
        const auto autograd = cli(benchArgs({"--rounds", "1", "--format", "json", "--autograd"}));
        QVERIFY2(inference.exitCode == 0 && autograd.exitCode == 0, qPrintable(inference.err + autograd.err));
        const auto a = parse(autograd.out).at("rows"), i = parse(inference.out).at("rows");
        QCOMPARE(a[0].at("memory_protocol").get<std::string>(), std::string("autograd"));
        QVERIFY(a[0].at("activations_peak_mib").get<double>() > i[0].at("activations_peak_mib").get<double>());
    }

    void csvHeaderAndRows() {
        const auto run = cli(benchArgs({"--rounds", "1"}));
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        const auto lines = run.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        const auto header = lines[0].split(',');
        for (const char* column : {"method", "batch", "rounds", "examples_per_s", "examples_per_s_min", "examples_per_s_max",
                                   "ratio_to_first", "token_layer_ratio", "memory_protocol", "weights_mib",
                                   "activations_peak_mib", "activations_peak_layer", "rss_peak_mib",
                                   "layer_activation_peak_mib"})
            QVERIFY2(header.contains(QString::fromLatin1(column)), column);
        QVERIFY(run.err.contains("machine:"));
    }

    void traceJsonIsChromeFormat() {
        QTemporaryDir dir;
        const QString path = dir.filePath("bench-trace.json");
        const auto run = cli(benchArgs({"--rounds", "1", "--trace-json", path}));
        QVERIFY2(run.exitCode == 0, qPrintable(run.err));
        std::ifstream in(path.toStdString());
        const auto doc = nlohmann::json::parse(in);
        int processes = 0, layers = 0, reducerStages = 0;
        for (const auto& event : doc.at("traceEvents")) {
            const auto phase = event.at("ph").get<std::string>();
            if (phase == "M") {
                ++processes;
                continue;
            }
            QCOMPARE(phase, std::string("X"));
            for (const char* key : {"name", "cat", "ts", "dur", "pid", "tid"}) QVERIFY2(event.contains(key), key);
            QVERIFY(event.at("dur").get<double>() >= 0);
            const auto name = event.at("name").get<std::string>();
            if (name.rfind("layer ", 0) == 0) ++layers;
            if (name.rfind("reduce.", 0) == 0) ++reducerStages;
        }
        QCOMPARE(processes, 2);    // none and pumer
        QCOMPARE(layers, 4);       // 2 layers each
        QVERIFY(reducerStages >= 3);  // PuMer's score, prune and merge stages in its layer 0
    }

    void usageErrors() {
        QCOMPARE(cli(benchArgs({"--rounds", "0"})).exitCode, 2);
        QCOMPARE(cli(benchArgs({"--protocol", "fast"})).exitCode, 2);
        QCOMPARE(cli(benchArgs({"--format", "xml"})).exitCode, 2);
    }
};

QTEST_GUILESS_MAIN(TestCliBench)
#include "tst_cli_bench.moc"
