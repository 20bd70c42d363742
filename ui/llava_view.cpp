#include "ui/llava_view.h"

#include <utility>

#include <QCheckBox>
#include <QComboBox>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSignalBlocker>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>

#include "ui/answer_panel.h"
#include "ui/canvas_view.h"
#include "ui/charts_panel.h"
#include "ui/inference_controller.h"
#include "ui/layer_scrubber.h"
#include "ui/generation_charts.h"
#include "ui/llava_controls.h"
#include "ui/trace_view.h"

namespace tokenscope {

namespace {

constexpr int kMinimumBoardWidthPx = 480;
constexpr double kMiB = 1024.0 * 1024.0;

enum Column { ColumnPartition, ColumnRegion, ColumnBudget, ColumnSelected, ColumnKept, ColumnShare, ColumnCount };

QString settingsText(const MethodSettings& settings)
{
    return QString::fromStdString(describe(settings));
}

QString mib(int64_t bytes) { return QString::number(double(bytes) / kMiB, 'f', bytes < 10 * kMiB ? 2 : 0); }

struct BoardJob {
    ImageU8 image;
    std::shared_ptr<const GenerateResult> record;
    TileBoardStyle style;
};

struct BoardResult {
    TileBoard board;
    QString error;
};

}  // namespace

LlavaView::LlavaView(InferenceController* controller, MethodPanel* methods, AnswerPanel* answers, ChartsPanel* charts,
                     QWidget* parent)
    : QWidget(parent), m_controller(controller), m_answers(answers), m_charts(charts)
{
    m_controls = new LlavaControls(methods);

    // Middle: the trace view (view options, the board, its key, counts, the partition table, the
    // scrubber over the selection's layers).
    m_traceView = new TraceView;
    m_canvas = m_traceView->canvas();
    m_legend = m_traceView->legend();
    m_counts = m_traceView->counts();
    m_shading = new QComboBox;
    m_shading->addItem(tr("Kept tokens"), int(TileShading::Tokens));
    m_shading->addItem(tr("CLS attention, layer 0"), int(TileShading::AttentionInitial));
    m_shading->addItem(tr("CLS attention, feature layer"), int(TileShading::AttentionFinal));
    m_shading->setToolTip(tr("What the cells show: which tokens reach the language model, or the vision tower's CLS "
                             "attention of layer 0 (HiRED's budget signal) or of the feature layer (its selection signal)."));
    m_traceView->scrubber()->setToolTip(
        tr("The step of the selection whose token states are shown: the vision tower's layers whose CLS attention the "
           "method reads (every token still there), the projector's selection, and the removal of selected tokens that "
           "lie in the canvas padding (what reaches the language model)."));
    m_tileOutlines = new QCheckBox(tr("Tiles on the full image"));
    m_tileOutlines->setChecked(true);
    m_tileOutlines->setToolTip(tr("Outline where each high-resolution tile lies on the full image."));
    m_traceView->addOption(new QLabel(tr("Show")));
    m_traceView->addOption(m_shading);
    m_traceView->addOption(m_tileOutlines);
    m_traceView->addOptionStretch();
    m_canvas->setPlaceholder(tr("Loading the model…"));
    m_canvas->setToolTip(tr("Left: the full (base) image the model sees at low resolution; right: its high-resolution "
                            "tiles. Wheel zooms, drag pans, double-click fits."));
    m_table = new QTableWidget(0, ColumnCount);
    m_table->setHorizontalHeaderLabels({tr("Partition"), tr("Region (px)"), tr("Budget"), tr("Selected"), tr("Kept"), tr("Share")});
    m_table->horizontalHeaderItem(ColumnShare)->setToolTip(tr("What the budget split weighed: paper mode sums the layer-0 CLS "
                                                              "attention over the tile's region, reference mode counts flagged tokens."));
    m_table->horizontalHeaderItem(ColumnSelected)->setToolTip(tr("Tokens the method chose; those in the padding are removed before the language model."));
    m_table->horizontalHeaderItem(ColumnKept)->setToolTip(tr("Tokens of this partition the language model receives."));
    m_table->verticalHeader()->setVisible(false);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionMode(QAbstractItemView::NoSelection);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->setVerticalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    m_table->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
    m_traceView->addBelow(m_table);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_traceView);
    updateLegend();

    // Wiring: every connect has this (or a child) as its context.
    connect(m_controls, &LlavaControls::settingsChanged, this, [this] { requestSelection(true); });
    connect(m_controls, &LlavaControls::generateRequested, this, [this] { generate(); });
    connect(m_controls, &LlavaControls::stopRequested, this, &LlavaView::stop);
    connect(m_shading, &QComboBox::currentIndexChanged, this, [this] {
        updateLegend();
        redrawBoard(false);
    });
    connect(m_tileOutlines, &QCheckBox::toggled, this, [this] {
        updateLegend();
        redrawBoard(false);
    });
    connect(m_traceView, &TraceView::currentLayerChanged, this, [this] { redrawBoard(false); });
    m_resizeTimer.setSingleShot(true);
    m_resizeTimer.setInterval(150);
    connect(&m_resizeTimer, &QTimer::timeout, this, [this] {
        updateLegend();
        redrawBoard(false);
    });
    connect(m_controller, &InferenceController::selectionFinished, this, &LlavaView::onSelectionFinished);
    connect(m_controller, &InferenceController::selectionFailed, this, [this](quint64, const QString& message) {
        Q_EMIT errorOccurred(tr("Could not select the visual tokens: %1").arg(message));
    });
    connect(m_controller, &InferenceController::generationStarted, this, &LlavaView::onGenerationStarted);
    connect(m_controller, &InferenceController::tokenStreamed, this,
            [this](quint64 jobId, const QString& delta, qint64) { onTokenStreamed(jobId, delta); });
    connect(m_controller, &InferenceController::generationFinished, this, &LlavaView::onGenerationFinished);
    connect(m_controller, &InferenceController::generationFailed, this, &LlavaView::onGenerationFailed);
}

bool LlavaView::hasModel() const
{
    return m_controller->hasModel() && m_controller->model().capabilities.selectsVisualTokens;
}

LlavaView::~LlavaView()
{
    if (!m_controls->parent())
        delete m_controls;
}

// ---------------------------------------------------------------------------------------- requests

void LlavaView::setImage(const ImageU8& image, const QString& name)
{
    m_image = image;
    m_imageName = name;
    ++m_imageId;
    if (hasModel())
        requestSelection(false);
}

void LlavaView::requestSelection(bool isDebounced)
{
    if (m_image.pixels.empty() || !hasModel())
        return;
    SelectionJob job;
    job.imageId = m_imageId;
    job.image = m_image;
    job.settings = m_controls->settings();
    if (m_controller->isGenerating())
        Q_EMIT statusMessage(tr("The selection follows when the answer is done (Stop ends it now)."), 4000);
    if (isDebounced)
        m_controller->requestSelectionDebounced(std::move(job));
    else
        m_controller->requestSelection(std::move(job));
}

bool LlavaView::generate()
{
    QString problem;
    if (!hasModel() || !m_controller->model().capabilities.generates)
        problem = tr("No LLaVA-NeXT model is loaded.");
    else if (m_image.pixels.empty())
        problem = tr("Open an image first.");
    else if (m_controls->prompt().trimmed().isEmpty())
        problem = tr("The prompt is empty: type a question about the image first.");
    if (!problem.isEmpty()) {
        Q_EMIT errorOccurred(problem);
        return false;
    }
    GenerationJob job;
    job.imageId = m_imageId;
    job.request.image = m_image;
    job.request.prompt = m_controls->prompt().trimmed().toStdString();
    job.request.method = m_controls->settings();
    job.request.maxNewTokens = m_controls->maxNewTokens();
    job.request.attentionMaps = true;
    m_controls->setGenerating(true);
    m_controller->requestGeneration(std::move(job));
    return true;
}

void LlavaView::stop() { m_controller->stopGeneration(); }

void LlavaView::showBanner(const QString& message)
{
    m_traceView->showMessage(message, true);
}

// ---------------------------------------------------------------------------------------- results

void LlavaView::showModel(const ModelInfo& info)
{
    if (!info.capabilities.selectsVisualTokens)
        return;
    const LlavaNextConfig& config = info.summary.config.llavaNext;
    const int layers = config.vision.numHiddenLayers;
    // hidden_states[k] is the output of layer k - 1 (0 = the embeddings); -2 of 24 layers = layer 22.
    const int featureLayer = config.visionFeatureLayer < 0 ? layers + config.visionFeatureLayer : config.visionFeatureLayer - 1;
    m_controls->setFeatureLayer(featureLayer);
    m_shading->setItemText(2, tr("CLS attention, layer %1 (feature layer)").arg(featureLayer));
    m_canvas->setPlaceholder(tr("Selecting the visual tokens…"));
    m_traceView->showMessage({}, true);
    m_result.reset();
    requestSelection(false);
}

void LlavaView::onSelectionFinished(const SelectionOutcome& outcome)
{
    if (outcome.imageId != m_imageId || !outcome.record)
        return;  // made for an image no longer shown
    showRecord(outcome.record, outcome.elapsedMs, false);
}

void LlavaView::showRecord(std::shared_ptr<const GenerateResult> record, double selectionMs, bool isAnswer)
{
    m_record = std::move(record);
    const Trace& trace = m_record->trace;
    const VisualBudget& r = trace.budget;
    const std::vector<TraceRegion>& regions = trace.image.regions;
    const int select = trace.find(Stage::Projector, 0, "select");
    const auto count = [&](int region, int layer) {
        const auto states = regionTokenStates(trace, region, layer);
        return int(std::count(states.begin(), states.end(), VisualTokenState::Kept));
    };
    m_table->setRowCount(int(regions.size()));
    for (int row = 0; row < int(regions.size()); ++row) {
        const TraceRegion& partition = regions[size_t(row)];
        const QStringList cells = {
            regionName(partition),
            QStringLiteral("%1, %2  %3×%4").arg(partition.x, 0, 'f', 0).arg(partition.y, 0, 'f', 0)
                .arg(partition.width, 0, 'f', 0).arg(partition.height, 0, 'f', 0),
            QString::number(partition.budget),
            QString::number(select >= 0 ? count(row, select) : 0),
            QString::number(count(row, -1)),
            partition.isFullImage ? QStringLiteral("–") : QString::number(partition.share, 'g', 3),
        };
        for (int column = 0; column < ColumnCount; ++column) {
            auto* item = new QTableWidgetItem(cells[column]);
            item->setTextAlignment(column <= ColumnRegion ? Qt::AlignLeft | Qt::AlignVCenter : Qt::AlignRight | Qt::AlignVCenter);
            m_table->setItem(row, column, item);
        }
    }
    const int p = regions.empty() ? 0 : regions.front().tokensPerSide;
    const int tokensPerPartition = p * p;
    const int tileRows = trace.image.tileRows, tileColumns = trace.image.tileColumns;
    const QString grid = tileRows * tileColumns > 0 ? tr("full image + %1×%2 tiles").arg(tileRows).arg(tileColumns)
                                                    : tr("full image");
    QString counts = tr("<b>%1 of %2</b> visual tokens reach the language model (%3) · budget %4, %5 selected · %6 of "
                        "%7 tokens each")
                         .arg(r.deliveredTokens).arg(r.unreducedTokens).arg(settingsText(m_record->method).toHtmlEscaped())
                         .arg(r.total).arg(r.selectedTokens).arg(grid).arg(tokensPerPartition);
    if (m_record->method.is("none"))
        counts = tr("<b>%1 of %2</b> visual tokens reach the language model (full: every token, image_newline rows "
                    "included) · %3 of %4 tokens each")
                     .arg(r.deliveredTokens).arg(r.unreducedTokens).arg(grid).arg(tokensPerPartition);
    if (selectionMs > 0)
        counts += tr(" · selection %1 ms").arg(selectionMs, 0, 'f', 0);
    m_counts->setText(counts);
    // Every row visible (LLaVA-NeXT images have at most a handful of partitions).
    m_table->setFixedHeight(m_table->horizontalHeader()->height() + 4 +
                            std::min(int(regions.size()), 8) * m_table->verticalHeader()->defaultSectionSize());
    updateLayerChoices();
    redrawBoard(true, isAnswer);
}

void LlavaView::updateLayerChoices()
{
    // The shown layer stays while a new record has the same layers; otherwise the last (what
    // reaches the language model).
    if (m_traceView->setTrace(m_record->trace))
        m_traceView->showLayer(int(m_record->trace.layers.size()) - 1);
}

void LlavaView::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    m_resizeTimer.start();
}

void LlavaView::redrawBoard(bool isNewRecord, bool isAnswer)
{
    if (!m_record)
        return;
    // Drawn off the GUI thread; a newer board (or style) wins.
    const quint64 generation = ++m_boardGeneration;
    // A newer draw (a resize, a style change) supersedes this one: it announces what this one would have.
    m_boardAnnouncesRecord = m_boardAnnouncesRecord || isNewRecord;
    m_boardAnnouncesAnswer = m_boardAnnouncesAnswer || isAnswer;
    const BoardJob job{m_image, m_record, boardStyle()};
    if (job.image.width != job.record->trace.image.imageWidth || job.image.height != job.record->trace.image.imageHeight)
        return;  // the record belongs to an image no longer shown; its successor is on its way
    auto* watcher = new QFutureWatcher<BoardResult>(this);
    connect(watcher, &QFutureWatcher<BoardResult>::finished, this, [this, watcher, generation] {
        const BoardResult result = watcher->result();
        watcher->deleteLater();
        if (generation != m_boardGeneration)
            return;
        if (!result.error.isEmpty()) {
            Q_EMIT errorOccurred(tr("Cannot draw the tiles: %1").arg(result.error));
            return;
        }
        m_board = result.board;
        m_canvas->setPicture(m_board.picture, nullptr, 1);
        Q_EMIT boardShown();
        const bool isNewRecord = std::exchange(m_boardAnnouncesRecord, false);
        const bool isAnswer = std::exchange(m_boardAnnouncesAnswer, false);
        if (isNewRecord)
            Q_EMIT selectionShown();
        if (isAnswer)
            Q_EMIT generationShown();
    });
    watcher->setFuture(QtConcurrent::run([job] {
        BoardResult result;
        try {
            result.board = renderTileBoard(job.image, job.record->trace, job.style);
        } catch (const std::exception& error) {
            result.error = QString::fromStdString(error.what());
        }
        return result;
    }));
}

TileBoardStyle LlavaView::boardStyle() const
{
    TileBoardStyle style;
    style.shading = TileShading(m_shading->currentData().toInt());
    style.showTileOutlines = m_tileOutlines->isChecked();
    style.layer = m_traceView->scrubber()->layerCount() > 0 ? m_traceView->currentLayer() : -1;
    // Drawn at the canvas's size in device pixels (CanvasView fits it inside a 4 px margin), so
    // the captions stay readable; a canvas not laid out yet gets a sensible minimum.
    const qreal ratio = devicePixelRatioF();
    style.widthPx = int(std::max(kMinimumBoardWidthPx, m_canvas->width() - 8) * ratio);
    style.maxHeightPx = int(std::max(kMinimumBoardWidthPx / 2, m_canvas->height() - 8) * ratio);
    return style;
}

void LlavaView::updateLegend()
{
    const qreal ratio = devicePixelRatioF();
    QImage legend = renderTileLegend(boardStyle(), int(std::max(420, m_legend->width() - 8) * ratio));
    legend.setDevicePixelRatio(ratio);
    m_legend->setPixmap(QPixmap::fromImage(legend));
}

void LlavaView::onGenerationStarted(quint64)
{
    m_streamedPieces = 0;
    m_streamedTokens = 0;
    m_answers->beginStream(tr("reading the image and the prompt…"));
    m_controls->setGenerating(true);
    m_traceView->showMessage({}, true);
}

void LlavaView::onTokenStreamed(quint64, const QString& delta)
{
    ++m_streamedPieces;
    m_answers->appendStream(delta);
    m_answers->setStreamStatus(tr("streaming… %1 pieces").arg(m_streamedPieces));
}

void LlavaView::onGenerationFinished(const GenerationOutcome& outcome)
{
    m_controls->setGenerating(false);
    m_result = outcome.result;
    const GenerateResult& result = *m_result;
    // The streamed pieces add up to the decoded answer (the callback's contract); should a piece
    // have been lost, the box still ends with the answer itself.
    m_answers->setStreamText(QString::fromStdString(result.text));
    m_answers->setStreamStatus(tr("%1 tokens, %2").arg(result.tokenIds.size())
                                .arg(result.stoppedAtEos ? tr("ended by the model") : tr("stopped at the token limit")));
    showMetrics(result);
    m_charts->addAnswer(result);
    Q_EMIT statusMessage(tr("Answered in %1 ms (first token after %2 ms)").arg(result.timings.totalMs, 0, 'f', 0)
                             .arg(result.timings.ttftMs, 0, 'f', 0), 5000);
    if (outcome.imageId == m_imageId)
        showRecord(std::make_shared<const GenerateResult>(result), 0, true);
    else
        Q_EMIT generationShown();
}

void LlavaView::onGenerationFailed(quint64, const QString& message, bool isCancelled)
{
    m_controls->setGenerating(false);
    if (isCancelled) {
        m_answers->setStreamStatus(tr("stopped after %1 pieces; the answer so far stays").arg(m_streamedPieces));
        Q_EMIT statusMessage(tr("Answer stopped."), 5000);
        return;
    }
    m_answers->setStreamStatus(tr("failed"));
    Q_EMIT errorOccurred(tr("The answer failed: %1").arg(message));
}

void LlavaView::showMetrics(const GenerateResult& result)
{
    const GenerateTimings& t = result.timings;
    const MemoryReport& memory = result.memory;
    m_answers->setStreamFigures(tr("<b>TTFT %1 ms</b> (preprocess %2, vision %3, prefill %4) · <b>%5 tokens/s</b> decode "
                          "(%6 by HiRED's definition)<br>prompt %7 tokens, %8 of them visual · memory: weights %9 MiB, "
                          "activations %10 MiB, KV cache %11 MiB")
                           .arg(t.ttftMs, 0, 'f', 1).arg(t.preprocessMs, 0, 'f', 1).arg(t.visionMs, 0, 'f', 1)
                           .arg(t.prefillMs, 0, 'f', 1).arg(t.decodeTokensPerSecond, 0, 'f', 1)
                           .arg(t.hiredTokensPerSecond, 0, 'f', 1).arg(result.promptTokens).arg(result.visualTokens)
                           .arg(mib(memory.weightsBytes)).arg(mib(std::max<int64_t>(0, memory.activationsPeakBytes)))
                           .arg(mib(memory.kvCacheBytes)));
}

// ---------------------------------------------------------------------------------------- state

int LlavaView::shownPartitionCount() const { return m_table->rowCount(); }

std::vector<int> LlavaView::shownKeptCounts() const
{
    std::vector<int> counts;
    for (int row = 0; row < m_table->rowCount(); ++row)
        counts.push_back(m_table->item(row, ColumnKept) ? m_table->item(row, ColumnKept)->text().toInt() : -1);
    return counts;
}

QString LlavaView::countsText() const { return m_counts->text(); }
QString LlavaView::answerText() const { return m_answers->streamText(); }
QString LlavaView::answerStatusText() const { return m_answers->streamStatus(); }
QString LlavaView::metricsText() const { return m_answers->streamFigures(); }
GenerationCharts* LlavaView::charts() const { return m_charts->generation(); }
QString LlavaView::bannerText() const { return m_traceView->messageText(); }

}  // namespace tokenscope
