#include "ui/canvas_view.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

#include "viz/overlay.h"

namespace tokenscope {

CanvasView::CanvasView(QWidget* parent) : QWidget(parent)
{
    setMinimumSize(240, 200);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    setMouseTracking(false);
    setFocusPolicy(Qt::ClickFocus);
    setToolTip(tr("The image as the model saw it. Wheel zooms, drag pans, double-click fits; click a "
                  "patch to see what happened to that token."));
}

void CanvasView::setPicture(const QImage& picture, const Trace* trace, int scale)
{
    m_picture = picture;
    m_hasTrace = trace != nullptr;
    if (trace)
        m_trace = *trace;
    m_scale = std::max(1, scale);
    update();
}

void CanvasView::setTitle(const QString& title)
{
    m_title = title;
    update();
}

void CanvasView::setPlaceholder(const QString& text)
{
    m_placeholder = text;
    update();
}

void CanvasView::setHighlight(const std::vector<int>& tokens)
{
    m_highlight = tokens;
    update();
}

void CanvasView::zoomBy(double factor)
{
    m_zoom = std::clamp(m_zoom * factor, 0.25, 16.0);
    update();
}

void CanvasView::fitToView()
{
    m_zoom = 1.0;
    m_pan = {0, 0};
    update();
}

QRectF CanvasView::pictureRect() const
{
    if (m_picture.isNull())
        return {};
    const double titleHeight = m_title.isEmpty() ? 0 : 22;
    const QRectF area = QRectF(rect()).adjusted(4, 4 + titleHeight, -4, -4);
    const double fit = std::min(area.width() / m_picture.width(), area.height() / m_picture.height());
    const QSizeF size(m_picture.width() * fit * m_zoom, m_picture.height() * fit * m_zoom);
    QRectF target(QPointF(0, 0), size);
    target.moveCenter(area.center() + m_pan);
    return target;
}

int CanvasView::tokenAt(QPointF widgetPoint) const
{
    const QRectF target = pictureRect();
    if (!m_hasTrace || target.isEmpty() || !target.contains(widgetPoint))
        return -1;
    const double x = (widgetPoint.x() - target.left()) / target.width() * m_picture.width();
    const double y = (widgetPoint.y() - target.top()) / target.height() * m_picture.height();
    return imageTokenAt(m_trace, QPoint(int(x), int(y)), m_scale);
}

QPointF CanvasView::widgetPointOf(int token) const
{
    const QRectF target = pictureRect();
    if (!m_hasTrace || target.isEmpty() || m_picture.isNull())
        return {};
    const QPointF centre = QRectF(patchRect(m_trace, token, m_scale)).center();
    return {target.left() + centre.x() / m_picture.width() * target.width(),
            target.top() + centre.y() / m_picture.height() * target.height()};
}

void CanvasView::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().color(QPalette::Base).darker(104));
    if (!m_title.isEmpty()) {
        QFont font = painter.font();
        font.setBold(true);
        painter.setFont(font);
        painter.setPen(palette().color(QPalette::Text));
        painter.drawText(QRectF(8, 4, width() - 16, 20), Qt::AlignLeft | Qt::AlignVCenter, m_title);
    }
    if (m_picture.isNull()) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, m_placeholder);
        return;
    }
    const QRectF target = pictureRect();
    painter.setRenderHint(QPainter::SmoothPixmapTransform, target.width() < m_picture.width());
    painter.drawImage(target, m_picture);
    if (m_hasTrace && !m_highlight.empty()) {
        const double sx = target.width() / m_picture.width();
        const double sy = target.height() / m_picture.height();
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setBrush(Qt::NoBrush);
        for (int token : m_highlight) {
            const QRect cell = patchRect(m_trace, token, m_scale);
            if (cell.isEmpty())
                continue;
            const QRectF mapped(target.left() + cell.left() * sx, target.top() + cell.top() * sy,
                                cell.width() * sx, cell.height() * sy);
            painter.setPen(QPen(Qt::black, 4));
            painter.drawRect(mapped.adjusted(2, 2, -2, -2));
            painter.setPen(QPen(Qt::white, 2));
            painter.drawRect(mapped.adjusted(2, 2, -2, -2));
        }
    }
}

void CanvasView::wheelEvent(QWheelEvent* event)
{
    const double steps = event->angleDelta().y() / 120.0;
    if (steps == 0)
        return;
    // Zoom about the mouse: keep the picture point under it in place.
    const QRectF before = pictureRect();
    const QPointF mouse = event->position();
    const QPointF relative = before.isEmpty() ? QPointF(0.5, 0.5)
                                              : QPointF((mouse.x() - before.left()) / before.width(),
                                                        (mouse.y() - before.top()) / before.height());
    zoomBy(std::pow(1.2, steps));
    const QRectF after = pictureRect();
    const QPointF landed(after.left() + relative.x() * after.width(), after.top() + relative.y() * after.height());
    m_pan += mouse - landed;
    update();
    event->accept();
}

void CanvasView::mousePressEvent(QMouseEvent* event)
{
    m_pressPosition = event->position();
    m_pressPan = m_pan;
    m_isDragging = false;
}

void CanvasView::mouseMoveEvent(QMouseEvent* event)
{
    if (!(event->buttons() & Qt::LeftButton))
        return;
    const QPointF delta = event->position() - m_pressPosition;
    if (!m_isDragging && delta.manhattanLength() > 4)
        m_isDragging = true;
    if (m_isDragging) {
        m_pan = m_pressPan + delta;
        setCursor(Qt::ClosedHandCursor);
        update();
    }
}

void CanvasView::mouseReleaseEvent(QMouseEvent* event)
{
    unsetCursor();
    if (!m_isDragging && event->button() == Qt::LeftButton) {
        const int token = tokenAt(event->position());
        if (token >= 0)
            Q_EMIT tokenClicked(token);
    }
    m_isDragging = false;
}

void CanvasView::mouseDoubleClickEvent(QMouseEvent*) { fitToView(); }

}  // namespace tokenscope
