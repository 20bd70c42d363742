#pragma once

// The window's view of a model that selects visual tokens and generates (LLaVA-NeXT), shown in
// place of the patch-grid trace view while one is loaded: the same TraceView (canvas + scrubber
// over the trace's stage-tagged layers) holding the tile board (viz/tile_overlay.h: the full image
// and each AnyRes tile with its kept tokens or a CLS-attention map, a budget bar per partition),
// its key, the counts and a table of the partitions. The answer streams into the window's answer
// panel and its figures go to the window's charts panel (per-answer charts); the method's knobs are
// the window's method panel. The prompt and Generate / Stop are a separate widget, controls(),
// which the window puts in its left column (taking ownership).
//
// Knob changes ask the worker for a selection only (Engine::selectVisualTokens: no language
// model), debounced, newest wins; Generate streams an answer token by token through queued
// signals. Inference runs on the window's InferenceController thread; boards are drawn on Qt's
// thread pool. Errors (bad input, empty prompt, out of memory) are reported through errorOccurred
// and leave what is shown in place. GUI thread only.

#include <QImage>
#include <QString>
#include <QTimer>
#include <QWidget>

#include <memory>
#include <vector>

#include "engine/generation.h"
#include "ui/run_types.h"
#include "viz/tile_overlay.h"

class QComboBox;
class QCheckBox;
class QLabel;
class QTableWidget;

namespace tokenscope {

class AnswerPanel;
class CanvasView;
class ChartsPanel;
class GenerationCharts;
class InferenceController;
class LlavaControls;
class MethodPanel;
class TraceView;

class LlavaView : public QWidget {
    Q_OBJECT
public:
    // The controller, method panel, answer panel and charts panel are the window's (one of each for
    // every family); the view acts while the model selects visual tokens.
    LlavaView(InferenceController* controller, MethodPanel* methods, AnswerPanel* answers, ChartsPanel* charts,
              QWidget* parent = nullptr);
    ~LlavaView() override;

    LlavaControls* controls() const { return m_controls; }
    InferenceController* controller() const { return m_controller; }
    // A model that selects visual tokens (LLaVA-NeXT) is loaded.
    bool hasModel() const;

    // A model was loaded on the controller (the window calls it once the method panel lists the
    // model's family): a model that selects visual tokens clears the answers and asks for a
    // selection of the image; any other is ignored.
    void showModel(const ModelInfo& info);
    // The image to work on (a copy is kept); with a model loaded a selection follows at once.
    void setImage(const ImageU8& image, const QString& name);
    // Asks for what the knobs keep of the image (no language model).
    void requestSelection(bool isDebounced);
    // Starts an answer with the knobs and the prompt. Returns false (after errorOccurred) when
    // there is no model, no image or no prompt.
    bool generate();
    void stop();
    // A message shown above the board until the next success (the window's errors land here too).
    void showBanner(const QString& message);

    // State, for tests and the screenshot mode.
    bool hasRecord() const { return m_record != nullptr; }
    const GenerateResult* shownRecord() const { return m_record.get(); }
    const GenerateResult* lastResult() const { return m_result.get(); }
    int shownPartitionCount() const;           // rows of the partition table
    std::vector<int> shownKeptCounts() const;  // the table's "kept" column, per partition
    std::vector<QRect> boardPartitionRects() const { return m_board.partitionRects; }
    QString countsText() const;
    QString answerText() const;
    QString answerStatusText() const;
    QString metricsText() const;
    QString bannerText() const;
    CanvasView* canvas() const { return m_canvas; }
    GenerationCharts* charts() const;  // the window's charts panel's per-answer charts
    QComboBox* shadingCombo() const { return m_shading; }
    // The canvas, the board's key and counts, and the scrubber over the trace layers whose token
    // states the board shows (vision layers, the projector's select and unpad; the last by default).
    TraceView* traceView() const { return m_traceView; }
    // How the board is drawn now: the shading and outlines chosen, sized to the canvas.
    TileBoardStyle boardStyle() const;

Q_SIGNALS:
    void selectionShown();   // a new record (a selection's or an answer's) is on screen, board drawn
    void generationShown();  // an answer finished: text, record, timings, charts on screen
    void boardShown();       // a board was drawn (a new record, another shading, a resize)
    void errorOccurred(const QString& message);
    void statusMessage(const QString& message, int timeoutMs);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void onSelectionFinished(const SelectionOutcome& outcome);
    void onGenerationStarted(quint64 jobId);
    void onTokenStreamed(quint64 jobId, const QString& delta);
    void onGenerationFinished(const GenerationOutcome& outcome);
    void onGenerationFailed(quint64 jobId, const QString& message, bool isCancelled);
    // Table and counts now, the board once it is drawn off the GUI thread; then selectionShown
    // (and generationShown when isAnswer).
    void showRecord(std::shared_ptr<const GenerateResult> record, double selectionMs, bool isAnswer);
    // isNewRecord: selectionShown follows the board (and generationShown when isAnswer).
    void redrawBoard(bool isNewRecord, bool isAnswer = false);
    void updateLegend();
    void updateLayerChoices();
    void showMetrics(const GenerateResult& result);

    InferenceController* m_controller = nullptr;
    LlavaControls* m_controls = nullptr;  // parentless until the window places it
    TraceView* m_traceView = nullptr;
    QComboBox* m_shading = nullptr;
    QCheckBox* m_tileOutlines = nullptr;
    CanvasView* m_canvas = nullptr;
    QLabel* m_legend = nullptr;
    QLabel* m_counts = nullptr;
    QTableWidget* m_table = nullptr;
    AnswerPanel* m_answers = nullptr;
    ChartsPanel* m_charts = nullptr;

    ImageU8 m_image;
    QString m_imageName;
    quint64 m_imageId = 0;
    std::shared_ptr<const GenerateResult> m_record;  // shown
    std::shared_ptr<const GenerateResult> m_result;        // the last finished answer
    TileBoard m_board;
    quint64 m_boardGeneration = 0;  // the newest board being drawn; older ones are dropped
    bool m_boardAnnouncesRecord = false;  // the board being drawn shows a new record / an answer
    bool m_boardAnnouncesAnswer = false;  // (carried over to a draw that supersedes it)
    QTimer m_resizeTimer;           // redraws the board at the new size once resizing pauses
    int m_streamedPieces = 0;
    int m_streamedTokens = 0;
};

}  // namespace tokenscope
