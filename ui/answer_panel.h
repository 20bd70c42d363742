#pragma once

// The one answer panel. For a model that answers from labels: the top-k answers with score bars,
// the current configuration beside the reference (the unreduced model, or configuration B in compare
// mode), with the differences highlighted. For a model that generates: the answer streaming in
// token by token, its status and its figures (time to first token, decode speed, memory).
// GUI thread only.

#include <QWidget>

#include <vector>

#include "engine/engine.h"

class QLabel;
class QPlainTextEdit;

namespace tokenscope {

class AnswerList;

class AnswerPanel : public QWidget {
    Q_OBJECT
public:
    explicit AnswerPanel(QWidget* parent = nullptr);

    void setAnswers(const QString& title, const std::vector<ScoredAnswer>& answers, const QString& referenceTitle,
                    const std::vector<ScoredAnswer>& reference);
    void clear();
    // "same top answer" / "top answer changed: a -> b" (tests, screenshots).
    QString verdict() const;
    // A bundled scene's right answer for the shown question (empty: none known, the line hides).
    void setExpectedAnswer(const QString& answer);
    // "right" / "wrong" against the expected answer; empty when none is known (tests).
    QString expectedVerdict() const;
    // What the answer cost beside the reference: forward time and the activation peak as the allocator
    // counted it, naming the protocol (reference may be null).
    void setCost(double forwardMs, const MemoryReport& memory, double referenceForwardMs, const MemoryReport* referenceMemory,
                 const QString& referenceTitle);
    QString costText() const;

    // Streamed mode (off: ranked labels).
    void setStreamed(bool isStreamed);
    bool isStreamed() const;
    void beginStream(const QString& status);  // clears the answer
    void appendStream(const QString& piece);
    void setStreamText(const QString& text);  // the whole answer (when it differs from the pieces)
    void setStreamStatus(const QString& status);
    void setStreamFigures(const QString& html);
    QString streamText() const;
    QString streamStatus() const;
    QString streamFigures() const;

private:
    QWidget* m_ranked;
    QWidget* m_streamBox;
    QPlainTextEdit* m_stream;
    QLabel* m_streamStatus;
    QLabel* m_streamFigures;
    AnswerList* m_answers;
    AnswerList* m_reference;
    QLabel* m_verdict;
    QLabel* m_expected;
    QLabel* m_cost;
    QString m_expectedAnswer;
    void showExpected();
};

}  // namespace tokenscope
