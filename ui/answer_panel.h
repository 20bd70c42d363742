#pragma once

// Top-k answers with score bars: the current configuration beside the reference (the unreduced
// model, or configuration B in compare mode), with the differences highlighted. GUI thread only.

#include <QWidget>

#include <vector>

#include "engine/engine.h"

class QLabel;

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

private:
    AnswerList* m_answers;
    AnswerList* m_reference;
    QLabel* m_verdict;
    QLabel* m_expected;
    QLabel* m_cost;
    QString m_expectedAnswer;
    void showExpected();
};

}  // namespace tokenscope
