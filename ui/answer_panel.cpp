#include "ui/answer_panel.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QPlainTextEdit>
#include <QTextCursor>
#include <QVBoxLayout>

#include <algorithm>

namespace tokenscope {

namespace {
const QColor kBarColor{0, 114, 178};
const QColor kDifferentColor{230, 159, 0};
}  // namespace

// One column: a title and a row per answer: label, bar, score. Labels missing from the other
// column are drawn orange.
class AnswerList : public QWidget {
public:
    explicit AnswerList(QWidget* parent) : QWidget(parent) { setMinimumHeight(60); }
    QString title;
    std::vector<ScoredAnswer> answers;
    std::vector<ScoredAnswer> other;

    QSize sizeHint() const override { return {180, 24 + 24 * int(std::max<size_t>(answers.size(), 3))}; }
    QSize minimumSizeHint() const override { return {140, sizeHint().height()}; }

protected:
    void paintEvent(QPaintEvent*) override
    {
        QPainter painter(this);
        painter.setRenderHint(QPainter::Antialiasing);
        QFont font = painter.font();
        font.setBold(true);
        painter.setFont(font);
        painter.setPen(palette().color(QPalette::Text));
        painter.drawText(QRectF(0, 0, width(), 20), Qt::AlignLeft | Qt::AlignVCenter,
                         painter.fontMetrics().elidedText(title, Qt::ElideRight, width()));
        font.setBold(false);
        painter.setFont(font);
        if (answers.empty()) {
            painter.setPen(palette().color(QPalette::PlaceholderText));
            painter.drawText(QRectF(0, 24, width(), 20), Qt::AlignLeft, tr("no answers yet"));
            return;
        }
        const double labelWidth = std::min(width() * 0.5, 150.0);
        const double scoreWidth = 44;
        const double barWidth = std::max(10.0, width() - labelWidth - scoreWidth - 8);
        for (size_t i = 0; i < answers.size(); ++i) {
            const ScoredAnswer& answer = answers[i];
            const double y = 24 + 24 * double(i);
            const bool isInOther = std::any_of(other.begin(), other.end(),
                                               [&](const ScoredAnswer& o) { return o.id == answer.id; });
            const bool isTopDifferent = i == 0 && !other.empty() && other.front().id != answer.id;
            QFont rowFont = font;
            rowFont.setBold(i == 0);
            painter.setFont(rowFont);
            painter.setPen(isInOther && !isTopDifferent ? palette().color(QPalette::Text) : kDifferentColor.darker(120));
            const QString label = QString::fromStdString(answer.label);
            painter.drawText(QRectF(0, y, labelWidth - 4, 20), Qt::AlignLeft | Qt::AlignVCenter,
                             painter.fontMetrics().elidedText(label, Qt::ElideRight, int(labelWidth - 4)));
            const QRectF track(labelWidth, y + 4, barWidth, 12);
            painter.setPen(Qt::NoPen);
            painter.setBrush(palette().color(QPalette::Midlight));
            painter.drawRoundedRect(track, 3, 3);
            painter.setBrush(isTopDifferent ? kDifferentColor : kBarColor);
            QRectF bar = track;
            bar.setWidth(track.width() * std::clamp(double(answer.score), 0.0, 1.0));
            painter.drawRoundedRect(bar, 3, 3);
            painter.setPen(palette().color(QPalette::Text));
            painter.drawText(QRectF(labelWidth + barWidth + 4, y, scoreWidth, 20), Qt::AlignRight | Qt::AlignVCenter,
                             QString::number(answer.score, 'f', 3));
        }
    }
};

AnswerPanel::AnswerPanel(QWidget* parent) : QWidget(parent)
{
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    m_ranked = new QWidget(this);
    auto* layout = new QVBoxLayout(m_ranked);
    layout->setContentsMargins(6, 6, 6, 6);
    auto* columns = new QHBoxLayout;
    m_answers = new AnswerList(m_ranked);
    m_reference = new AnswerList(m_ranked);
    m_answers->setToolTip(tr("The model's best answers with this method, and how sure it is (0 to 1)."));
    m_reference->setToolTip(tr("The answers without token reduction (or of configuration B): orange marks what differs."));
    columns->addWidget(m_answers, 1);
    columns->addSpacing(12);
    columns->addWidget(m_reference, 1);
    m_verdict = new QLabel(m_ranked);
    m_verdict->setWordWrap(true);
    layout->addLayout(columns);
    layout->addWidget(m_verdict);
    m_expected = new QLabel(m_ranked);
    m_expected->setWordWrap(true);
    m_expected->setToolTip(tr("The answer the Shapes VQA generator knows to be right for this bundled scene and question."));
    layout->addWidget(m_expected);
    m_cost = new QLabel(m_ranked);
    m_cost->setWordWrap(true);
    m_cost->setToolTip(tr("Forward time and the activation peak of this answer beside the reference. Memory is counted by "
                          "TokenScope's allocator (weights excluded); 'inference' means no autograd graph was kept."));
    layout->addWidget(m_cost);
    outer->addWidget(m_ranked);

    // The streamed answer: the text as it arrives, its status, its figures.
    m_streamBox = new QWidget(this);
    auto* streamLayout = new QVBoxLayout(m_streamBox);
    streamLayout->setContentsMargins(0, 0, 0, 0);
    m_stream = new QPlainTextEdit(m_streamBox);
    m_stream->setReadOnly(true);
    m_stream->setPlaceholderText(tr("Press Generate (Ctrl+Return) to answer the prompt; the answer streams in here."));
    m_stream->setMinimumHeight(90);
    m_stream->setMaximumHeight(170);
    m_streamStatus = new QLabel(m_streamBox);
    m_streamStatus->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_streamFigures = new QLabel(m_streamBox);
    m_streamFigures->setWordWrap(true);
    m_streamFigures->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_streamFigures->setToolTip(tr("The last answer: time to first token (preprocess + vision + prefill), decode speed, "
                                   "the prompt the language model read and the memory split."));
    streamLayout->addWidget(new QLabel(tr("<b>Answer</b>"), m_streamBox));
    streamLayout->addWidget(m_stream);
    streamLayout->addWidget(m_streamStatus);
    streamLayout->addWidget(m_streamFigures);
    outer->addWidget(m_streamBox);
    m_streamBox->setVisible(false);
    clear();
}

void AnswerPanel::setStreamed(bool isStreamed)
{
    m_ranked->setVisible(!isStreamed);
    m_streamBox->setVisible(isStreamed);
}

bool AnswerPanel::isStreamed() const { return !m_streamBox->isHidden(); }

void AnswerPanel::beginStream(const QString& status)
{
    m_stream->clear();
    m_streamStatus->setText(status);
}

void AnswerPanel::appendStream(const QString& piece)
{
    QTextCursor cursor(m_stream->document());
    cursor.movePosition(QTextCursor::End);
    cursor.insertText(piece);
    m_stream->ensureCursorVisible();
}

void AnswerPanel::setStreamText(const QString& text)
{
    if (m_stream->toPlainText() != text)
        m_stream->setPlainText(text);
}

void AnswerPanel::setStreamStatus(const QString& status) { m_streamStatus->setText(status); }
void AnswerPanel::setStreamFigures(const QString& html) { m_streamFigures->setText(html); }
QString AnswerPanel::streamText() const { return m_stream->toPlainText(); }
QString AnswerPanel::streamStatus() const { return m_streamStatus->text(); }
QString AnswerPanel::streamFigures() const { return m_streamFigures->text(); }

void AnswerPanel::setCost(double forwardMs, const MemoryReport& memory, double referenceForwardMs,
                          const MemoryReport* referenceMemory, const QString& referenceTitle)
{
    const auto change = [](double value, double reference) {
        if (reference <= 0)
            return QString();
        const double percent = 100.0 * (value - reference) / reference;
        return QStringLiteral(" (%1%2%)").arg(percent > 0 ? "+" : "").arg(percent, 0, 'f', 0);
    };
    const QString protocol = memory.protocol == MemoryProtocol::Autograd ? tr("autograd") : tr("inference");
    if (!memory.hasAllocatorFigures()) {
        m_cost->setText(tr("forward %1 ms").arg(forwardMs, 0, 'f', 1));
        return;
    }
    QString text = tr("forward %1 ms · activation peak %2 MiB (%3, allocator)")
                       .arg(forwardMs, 0, 'f', 1).arg(toMiB(memory.activationsPeakBytes), 0, 'f', 1).arg(protocol);
    if (referenceMemory && referenceMemory->hasAllocatorFigures()) {
        text = tr("forward %1 vs %2 ms%3 · activation peak %4 vs %5 MiB%6 (%7, allocator)")
                   .arg(forwardMs, 0, 'f', 1).arg(referenceForwardMs, 0, 'f', 1).arg(change(forwardMs, referenceForwardMs))
                   .arg(toMiB(memory.activationsPeakBytes), 0, 'f', 1).arg(toMiB(referenceMemory->activationsPeakBytes), 0, 'f', 1)
                   .arg(change(double(memory.activationsPeakBytes), double(referenceMemory->activationsPeakBytes)))
                   .arg(protocol);
        // The last layer shows what the reduction buys after all reducers, even when the peak sits earlier.
        const auto& mine = memory.layerActivationPeakBytes;
        const auto& theirs = referenceMemory->layerActivationPeakBytes;
        if (!mine.empty() && mine.size() == theirs.size() && mine.back() >= 0 && theirs.back() > 0)
            text += tr(" · last layer %1 vs %2 MiB%3").arg(toMiB(mine.back()), 0, 'f', 1).arg(toMiB(theirs.back()), 0, 'f', 1)
                        .arg(change(double(mine.back()), double(theirs.back())));
        text += tr(" — vs %1").arg(referenceTitle.toHtmlEscaped());
    }
    m_cost->setText(QStringLiteral("<span style='color:#555'>%1</span>").arg(text));
}

QString AnswerPanel::costText() const
{
    return m_cost->text();
}

void AnswerPanel::setAnswers(const QString& title, const std::vector<ScoredAnswer>& answers,
                             const QString& referenceTitle, const std::vector<ScoredAnswer>& reference)
{
    m_answers->title = title;
    m_answers->answers = answers;
    m_answers->other = reference;
    m_reference->title = referenceTitle;
    m_reference->answers = reference;
    m_reference->other = answers;
    m_answers->updateGeometry();
    m_reference->updateGeometry();
    m_answers->update();
    m_reference->update();
    if (answers.empty() || reference.empty()) {
        m_verdict->clear();
    } else if (answers.front().id == reference.front().id) {
        m_verdict->setText(tr("<span style='color:#0072b2'>✔ same top answer as %1</span>").arg(referenceTitle.toHtmlEscaped()));
    } else {
        m_verdict->setText(tr("<span style='color:#b87a00'><b>top answer changed:</b> %1 → %2</span>")
                               .arg(QString::fromStdString(reference.front().label).toHtmlEscaped(),
                                    QString::fromStdString(answers.front().label).toHtmlEscaped()));
    }
    showExpected();
}

void AnswerPanel::setExpectedAnswer(const QString& answer)
{
    m_expectedAnswer = answer;
    showExpected();
}

QString AnswerPanel::expectedVerdict() const
{
    if (m_expectedAnswer.isEmpty() || m_answers->answers.empty())
        return {};
    return QString::fromStdString(m_answers->answers.front().label) == m_expectedAnswer ? QStringLiteral("right")
                                                                                        : QStringLiteral("wrong");
}

void AnswerPanel::showExpected()
{
    const QString verdict = expectedVerdict();
    m_expected->setVisible(!verdict.isEmpty());
    if (verdict == QLatin1String("right"))
        m_expected->setText(tr("<span style='color:#009e73'>✔ right: the scene's answer is <b>%1</b></span>")
                                .arg(m_expectedAnswer.toHtmlEscaped()));
    else if (!verdict.isEmpty())
        m_expected->setText(tr("<span style='color:#d55e00'>✘ wrong: the scene's answer is <b>%1</b></span>")
                                .arg(m_expectedAnswer.toHtmlEscaped()));
}

void AnswerPanel::clear() { setAnswers(tr("Answers"), {}, tr("Unreduced"), {}); }

QString AnswerPanel::verdict() const
{
    if (m_answers->answers.empty() || m_reference->answers.empty())
        return {};
    return m_answers->answers.front().id == m_reference->answers.front().id
               ? QStringLiteral("same top answer")
               : QStringLiteral("top answer changed: %1 -> %2")
                     .arg(QString::fromStdString(m_reference->answers.front().label),
                          QString::fromStdString(m_answers->answers.front().label));
}

}  // namespace tokenscope
