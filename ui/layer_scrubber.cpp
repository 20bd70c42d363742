#include "ui/layer_scrubber.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QStyle>
#include <QTimer>
#include <QToolButton>

#include <algorithm>

#include "ui/trace_labels.h"

namespace tokenscope {

namespace {
const QColor kReducedTickColor{230, 159, 0};
const QColor kPlainTickColor{150, 150, 160};
const QColor kHandleColor{0, 114, 178};
}  // namespace

// The clickable track: ticks, reduction marks, the current layer's handle.
class ScrubberTrack : public QWidget {
public:
    explicit ScrubberTrack(LayerScrubber* scrubber) : QWidget(scrubber), m_scrubber(scrubber)
    {
        setMinimumHeight(44);
        setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
        setCursor(Qt::PointingHandCursor);
        setToolTip(tr("Each tick is one layer of the trace (an encoder layer, or a step such as the "
                      "projector's selection); orange ticks are the layers where the method removed or merged "
                      "tokens. Click or drag to show a layer."));
    }
    std::vector<QString> ticks;  // what each tick says: the layer's index, or its label
    std::vector<bool> reduced;
    int current = 0;

    double xOf(int index) const
    {
        const int n = int(ticks.size());
        const double left = 24, right = width() - 24;  // room for a label ("unpad") under the end ticks
        return n <= 1 ? (left + right) / 2 : left + (right - left) * index / (n - 1);
    }
    int indexAt(double x) const
    {
        int best = 0;
        for (int i = 1; i < int(ticks.size()); ++i)
            if (std::abs(xOf(i) - x) < std::abs(xOf(best) - x))
                best = i;
        return best;
    }

protected:
    void paintEvent(QPaintEvent*) override
    {
        QPainter painter(this);
        painter.setRenderHint(QPainter::Antialiasing);
        const int lineY = 16;
        painter.setPen(QPen(palette().color(QPalette::Mid), 3, Qt::SolidLine, Qt::RoundCap));
        painter.drawLine(QPointF(xOf(0), lineY), QPointF(xOf(int(ticks.size()) - 1), lineY));
        QFont font = painter.font();
        font.setPixelSize(11);
        painter.setFont(font);
        for (int i = 0; i < int(ticks.size()); ++i) {
            const bool isReduced = i < int(reduced.size()) && reduced[size_t(i)];
            const double x = xOf(i);
            painter.setPen(Qt::NoPen);
            painter.setBrush(isReduced ? kReducedTickColor : kPlainTickColor);
            const double radius = isReduced ? 6 : 4;
            painter.drawEllipse(QPointF(x, lineY), radius, radius);
            painter.setPen(isReduced ? kReducedTickColor.darker(130) : palette().color(QPalette::Text));
            painter.drawText(QRectF(x - 24, lineY + 9, 48, 16), Qt::AlignCenter, ticks[size_t(i)]);
        }
        if (!ticks.empty()) {
            const double x = xOf(current);
            painter.setPen(QPen(Qt::white, 2));
            painter.setBrush(kHandleColor);
            painter.drawEllipse(QPointF(x, lineY), 9, 9);
        }
    }
    void mousePressEvent(QMouseEvent* event) override { m_scrubber->setCurrentIndex(indexAt(event->position().x())); }
    void mouseMoveEvent(QMouseEvent* event) override
    {
        if (event->buttons() & Qt::LeftButton)
            m_scrubber->setCurrentIndex(indexAt(event->position().x()));
    }

private:
    LayerScrubber* m_scrubber;
};

LayerScrubber::LayerScrubber(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(4, 0, 4, 0);
    m_playButton = new QToolButton(this);
    m_playButton->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    m_playButton->setCheckable(true);
    m_playButton->setToolTip(tr("Play: step through the layers one after another (Space)."));
    m_speed = new QComboBox(this);
    for (double layersPerSecond : {0.5, 1.0, 2.0, 4.0, 8.0})
        m_speed->addItem(tr("%1 layers/s").arg(layersPerSecond), layersPerSecond);
    m_speed->setCurrentIndex(2);
    m_speed->setToolTip(tr("How many layers per second autoplay advances."));
    m_track = new ScrubberTrack(this);
    m_label = new QLabel(this);
    m_label->setMinimumWidth(150);
    layout->addWidget(m_playButton);
    layout->addWidget(m_track, 1);
    layout->addWidget(m_label);
    layout->addWidget(m_speed);

    m_playTimer = new QTimer(this);
    connect(m_playTimer, &QTimer::timeout, this, [this] {
        if (layerCount() == 0)
            return;
        setCurrentIndex((m_current + 1) % layerCount());
    });
    connect(m_playButton, &QToolButton::toggled, this, [this](bool isChecked) { setPlaying(isChecked); });
    connect(m_speed, &QComboBox::currentIndexChanged, this, [this] {
        m_playTimer->setInterval(int(1000.0 / m_speed->currentData().toDouble()));
    });
    m_playTimer->setInterval(500);
    updateLabel();
}

void LayerScrubber::setTrace(const Trace& trace)
{
    m_names.clear();
    m_captions.clear();
    m_reduced.clear();
    m_track->ticks.clear();
    for (int layer = 0; layer < int(trace.layers.size()); ++layer) {
        m_names.push_back(QString::fromStdString(trace.layerName(layer)));
        m_captions.push_back(layerCaption(trace, layer));
        m_reduced.push_back(trace.layers[size_t(layer)].reduced);
        m_track->ticks.push_back(layerTick(trace, layer));
    }
    m_track->reduced = m_reduced;
    const int clamped = std::clamp(m_current, 0, std::max(0, layerCount() - 1));
    if (clamped != m_current) {
        m_current = clamped;
        m_track->current = clamped;
        Q_EMIT currentIndexChanged(clamped);
    }
    m_track->update();
    updateLabel();
}

int LayerScrubber::layerCount() const { return int(m_names.size()); }

QString LayerScrubber::layerName(int index) const
{
    return index >= 0 && index < layerCount() ? m_names[size_t(index)] : QString();
}

void LayerScrubber::setCurrentIndex(int index)
{
    index = std::clamp(index, 0, std::max(0, layerCount() - 1));
    if (index == m_current)
        return;
    m_current = index;
    m_track->current = index;
    m_track->update();
    updateLabel();
    Q_EMIT currentIndexChanged(index);
}

void LayerScrubber::stepBy(int delta) { setCurrentIndex(m_current + delta); }

bool LayerScrubber::isPlaying() const { return m_playTimer->isActive(); }

void LayerScrubber::setPlaying(bool isPlaying)
{
    if (isPlaying)
        m_playTimer->start();
    else
        m_playTimer->stop();
    const QSignalBlocker blocker(m_playButton);
    m_playButton->setChecked(isPlaying);
    m_playButton->setIcon(style()->standardIcon(isPlaying ? QStyle::SP_MediaPause : QStyle::SP_MediaPlay));
}

void LayerScrubber::updateLabel()
{
    if (m_names.empty()) {
        m_label->setText(tr("no layers yet"));
        return;
    }
    const bool isReduced = m_current < int(m_reduced.size()) && m_reduced[size_t(m_current)];
    m_label->setText(tr("<b>%1</b> (%2 of %3)%4")
                         .arg(m_captions[size_t(m_current)].toHtmlEscaped())
                         .arg(m_current + 1)
                         .arg(layerCount())
                         .arg(isReduced ? tr(" · <span style='color:#b87a00'>reduces</span>") : QString()));
}

}  // namespace tokenscope
