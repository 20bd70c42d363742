#include "ui/trace_view.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QStackedWidget>
#include <QVBoxLayout>

#include "engine/trace.h"
#include "ui/canvas_view.h"
#include "ui/layer_scrubber.h"

namespace tokenscope {

TraceView::TraceView(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    m_banner = new QLabel;
    m_banner->setWordWrap(true);
    m_banner->setVisible(false);
    m_banner->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_optionsRow = new QWidget;
    m_options = new QHBoxLayout(m_optionsRow);
    m_options->setContentsMargins(0, 0, 0, 0);
    m_optionsRow->setVisible(false);
    m_pages = new QStackedWidget;
    m_canvas = new CanvasView;
    m_pages->addWidget(m_canvas);
    m_legend = new QLabel;
    m_legend->setAlignment(Qt::AlignCenter);
    m_counts = new QLabel;
    m_counts->setWordWrap(true);
    m_counts->setAlignment(Qt::AlignCenter);
    m_counts->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_below = new QVBoxLayout;
    m_below->setContentsMargins(0, 0, 0, 0);
    m_scrubber = new LayerScrubber;
    layout->addWidget(m_banner);
    layout->addWidget(m_optionsRow);
    layout->addWidget(m_pages, 1);
    layout->addWidget(m_legend);
    layout->addWidget(m_counts);
    layout->addLayout(m_below);
    layout->addWidget(m_scrubber);
    connect(m_scrubber, &LayerScrubber::currentIndexChanged, this, &TraceView::currentLayerChanged);
}

void TraceView::showMessage(const QString& message, bool isError)
{
    m_banner->setText(isError ? QStringLiteral("⚠ ") + message.toHtmlEscaped() : message.toHtmlEscaped());
    m_banner->setStyleSheet(isError ? QStringLiteral("background: #fde8e4; color: #8a1c0c; border: 1px solid #e0a090; padding: 6px;")
                                    : QStringLiteral("background: #eef4fb; color: #123; border: 1px solid #9bc; padding: 6px;"));
    m_banner->setVisible(!message.isEmpty());
}

QString TraceView::messageText() const { return m_banner->isVisible() ? m_banner->text() : QString(); }

void TraceView::addOption(QWidget* widget)
{
    m_options->addWidget(widget);
    m_optionsRow->setVisible(true);
}

void TraceView::addOptionStretch() { m_options->addStretch(1); }

void TraceView::addBelow(QWidget* widget) { m_below->addWidget(widget); }

int TraceView::currentLayer() const { return m_scrubber->currentIndex(); }

bool TraceView::setTrace(const Trace& trace)
{
    bool isSame = m_scrubber->layerCount() == int(trace.layers.size());
    for (int layer = 0; isSame && layer < int(trace.layers.size()); ++layer)
        isSame = m_scrubber->layerName(layer) == QString::fromStdString(trace.layerName(layer));
    const QSignalBlocker blocker(m_scrubber);
    m_scrubber->setTrace(trace);
    return !isSame;
}

void TraceView::showLayer(int layer)
{
    const QSignalBlocker blocker(m_scrubber);
    m_scrubber->setCurrentIndex(layer);
}

}  // namespace tokenscope
