#pragma once

// The TokenScope window: controls on the left; the canvas with the layer's overlay, the text strip
// and the layer scrubber in the middle (a split view with the diff in compare mode); answers,
// metric deltas, token provenance and charts on the right. A model that selects visual tokens and
// generates (LLaVA-NeXT) shows LlavaView in place of the middle and right columns. Every job runs on
// InferenceController's one worker thread; this class only sends requests and draws results.
// GUI thread only.

#include <QHash>
#include <QImage>
#include <QMainWindow>
#include <QString>

#include <optional>

#include "engine/engine.h"
#include "tasks/eval/answer_changes.h"
#include "ui/inference_worker.h"
#include "ui/overlay_cache.h"
#include "ui/resource_paths.h"
#include "ui/run_types.h"
#include "ui/sample_scenes.h"
#include "ui/session.h"

class QDockWidget;
class QLabel;
class QSplitter;
class QStackedWidget;
class QVBoxLayout;

namespace tokenscope {

class AnswerChangesView;
class AnswerPanel;
class CanvasView;
class ChartsPanel;
class ControlsPanel;
class LayerScrubber;
class LlavaView;
class TraceView;
class InferenceController;

struct MainWindowOptions {
    ModelSource model;                    // empty folder and builtin: the bundled model
    QString imagePath;                    // empty: the bundled sample image
    QString question;                     // empty: the preset question
    std::optional<MethodSettings> method;  // none: PuMer VQAv2 preset
    int layer = -1;                       // TraceLayer::layer to show first; -1: after the first reduction
    bool usesSettings = true;             // restore/save QSettings (off for screenshots and tests)
    BackendLoader loader;                 // tests: a stand-in for the engine
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const MainWindowOptions& options = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Input. Errors are reported in the window; the previous image stays. Returns success.
    bool openImageFile(const QString& path);
    void setImage(const ImageU8& image, const QString& name, const QString& path = {});
    void loadModel(const ModelSource& source);
    bool openSession(const QString& path);
    bool saveSession(const QString& path);
    bool exportViewPng(const QString& path);
    bool exportAllLayers(const QString& folder);
    bool exportTraceJson(const QString& path);
    bool exportMetricsCsv(const QString& path);
    // The last run's per-layer and per-stage timeline (and the reference run's) as Chrome trace events.
    bool exportTimelineJson(const QString& path);
    // The Trade-off chart's curve from a sweep.csv (a model folder's own is loaded with the model).
    // Errors are reported in the window; the previous curve stays. Returns success.
    bool loadSweep(const QString& path);
    // A dataset evaluation's changed answers (tokenscope-cli eval --dataset results of the method and
    // of the unreduced model) in the "Answer changes" dock. Errors are reported in the window.
    bool openEvaluationResults(const QStringList& methodFiles, const QStringList& baselineFiles);
    AnswerChangesView* answerChanges() const { return m_answerChanges; }  // null until results were opened
    // Opens one of its questions: the image and question, the method's settings, against unreduced.
    void openChangedAnswer(const evaluation::AnswerChange& item);

    // State, for tests and the screenshot mode.
    InferenceController* controller() const { return m_controller; }
    ControlsPanel* controls() const { return m_controls; }
    CanvasView* canvas() const { return m_canvas; }
    CanvasView* compareCanvas() const { return m_canvasB; }
    CanvasView* diffCanvas() const { return m_diffCanvas; }
    LayerScrubber* scrubber() const { return m_scrubber; }
    AnswerPanel* answers() const { return m_answers; }
    ChartsPanel* charts() const { return m_charts; }
    // The LLaVA-NeXT view, shown instead of the ViLT canvas while the model selects visual tokens.
    LlavaView* llava() const { return m_llava; }
    bool isLlavaShown() const;
    bool hasResult() const { return m_outcome.result != nullptr; }
    const RunOutcome& outcome() const { return m_outcome; }
    int shownLayerIndex() const;
    QString countsText() const;
    QString provenanceText() const;
    QString lastError() const { return m_lastError; }
    bool isCompareShown() const;
    // Whether the Trade-off chart measures the current configuration (Shapes VQA models only).
    bool measuresTradeoff() const { return m_isShapesModel; }
    // The bundled scene's right answer when the shown image is one and the question is its question.
    QString expectedAnswer() const;
    // resources/models/shapes-vilt (the trained model) when present, else vilt-tiny-random.
    static QString defaultModelFolder();
    // GUI-thread cost of showing the last result (its first layer drawn off the thread) and of the last layer
    // drawn (overlays, legend, text strip, counts), in milliseconds. For tokenscope-ui-bench.
    double lastResultDrawMs() const { return m_lastResultDrawMs; }
    double lastLayerDrawMs() const { return m_lastLayerDrawMs; }

Q_SIGNALS:
    void resultShown();  // a run's result is on screen
    void errorShown(const QString& message);
    void quickEvalShown();  // the Trade-off chart's current point was measured and is on screen

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void buildMenus();
    void buildShortcuts();
    LayerScrubber* shownScrubber() const;  // the ViLT view's or the LLaVA view's, whichever is shown
    void requestRun(bool isDebounced);
    void onRunFinished(const RunOutcome& outcome);
    void showResult(const RunOutcome& outcome, const OverlayJob& job, int target, const LayerPictures& pictures);
    OverlayJob overlayJobFor(const RunOutcome& outcome) const;
    void onModelLoaded(const ModelInfo& info);
    void showLayer();
    void showProvenance(int token);
    void updateDeltas();
    void showError(const QString& message);
    void showNote(const QString& message);
    void pasteImage();
    void chooseImageFile();
    void chooseModelFolder();
    void showLlavaView(bool isShown);
    // The Trade-off chart (main_window_tradeoff.cpp).
    void setUpTradeoff(const ModelInfo& info);
    void requestQuickEval();
    void showCurrentTradeoffPoint();
    void onEvalFinished(const EvalOutcome& outcome);
    void onEvalFailed(quint64 jobId, const QString& message);
    void chooseSweepFile();
    void setUpAnswerChanges();  // main_window_evaluation.cpp; makes the dock on first use
    void restoreSettings();
    void saveSettings();
    void rememberModel(const ModelSource& source);
    const RunResult* referenceResult() const;  // configuration B in compare mode, else the baseline
    QString referenceName() const;

    MainWindowOptions m_options;
    InferenceController* m_controller = nullptr;
    OverlayCache* m_overlays = nullptr;
    quint64 m_renderGeneration = 0;  // the newest result being drawn; older ones are dropped
    ControlsPanel* m_controls = nullptr;
    TraceView* m_traceView = nullptr;
    CanvasView* m_canvas = nullptr;
    CanvasView* m_canvasA = nullptr;
    CanvasView* m_canvasB = nullptr;
    CanvasView* m_diffCanvas = nullptr;
    QLabel* m_legend = nullptr;
    QLabel* m_counts = nullptr;
    QLabel* m_textStrip = nullptr;
    LayerScrubber* m_scrubber = nullptr;
    AnswerPanel* m_answers = nullptr;
    QLabel* m_deltas = nullptr;
    QLabel* m_provenance = nullptr;
    ChartsPanel* m_charts = nullptr;
    QLabel* m_runState = nullptr;
    QSplitter* m_splitter = nullptr;
    QSplitter* m_compareSplit = nullptr;
    LlavaView* m_llava = nullptr;
    AnswerChangesView* m_answerChanges = nullptr;
    QDockWidget* m_answerChangesDock = nullptr;

    ImageU8 m_image;
    QString m_imageName;
    QString m_imagePath;
    SampleScenes m_samples;  // the bundled images, scenes with their questions
    quint64 m_inputId = 0;  // (image, question) pair
    quint64 m_imageId = 0;
    RunOutcome m_outcome;
    int m_selectedToken = -1;
    int m_pendingLayer = -1;  // TraceLayer::layer to show once a result arrives
    QString m_lastError;
    double m_lastResultDrawMs = 0;
    double m_lastLayerDrawMs = 0;
    // Quick evaluations of the configurations seen with this model, by describe(settings).
    bool m_isShapesModel = false;
    quint64 m_modelGeneration = 0;
    QHash<QString, EvalOutcome> m_evalCache;
    QString m_requestedEvalKey;
};

}  // namespace tokenscope
