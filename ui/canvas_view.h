#pragma once

// Shows one rendered overlay (viz::renderLayerOverlay or renderComparisonDiff) with zoom and pan.
// The picture is drawn at device pixels (HiDPI): a fitted picture is scaled once per paint with
// smooth filtering. Clicking a patch emits tokenClicked with the original image token under the
// mouse; the selected token's merge group is outlined. GUI thread only.

#include <QImage>
#include <QWidget>

#include <vector>

#include "engine/trace.h"

namespace tokenscope {

class CanvasView : public QWidget {
    Q_OBJECT
public:
    explicit CanvasView(QWidget* parent = nullptr);

    // picture: the overlay at `scale` output pixels per resized-image pixel of `trace` (the
    // geometry of viz/overlay.h). trace may be null (no token picking). Keeps zoom and pan.
    void setPicture(const QImage& picture, const Trace* trace, int scale);
    void setTitle(const QString& title);
    QString title() const { return m_title; }
    void setPlaceholder(const QString& text);
    const QImage& picture() const { return m_picture; }

    // Outlines these original image tokens (the selected token's group); empty clears.
    void setHighlight(const std::vector<int>& tokens);

    void zoomBy(double factor);
    void fitToView();
    double zoom() const { return m_zoom; }
    // The original image token under a widget point, -1 outside the grid / without a trace.
    int tokenAt(QPointF widgetPoint) const;
    // The widget point at the centre of a token's patch (tests).
    QPointF widgetPointOf(int token) const;

Q_SIGNALS:
    void tokenClicked(int token);

protected:
    void paintEvent(QPaintEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;

private:
    QRectF pictureRect() const;  // where the picture lands, in widget coordinates

    QImage m_picture;
    Trace m_trace;
    bool m_hasTrace = false;
    int m_scale = 1;
    QString m_title;
    QString m_placeholder;
    std::vector<int> m_highlight;
    double m_zoom = 1.0;      // 1 = fit
    QPointF m_pan{0, 0};      // widget pixels
    QPointF m_pressPosition;
    QPointF m_pressPan;
    bool m_isDragging = false;
};

}  // namespace tokenscope
