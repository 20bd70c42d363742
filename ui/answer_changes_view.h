#pragma once

// The questions of a dataset evaluation whose answer the reduction changed (tasks/eval/
// answer_changes.h): the method's results and the unreduced model's (shard files or eval-merge
// outputs of `tokenscope-cli eval --dataset`), paired by question, filtered to worse (right ->
// wrong), better (wrong -> right), any change or all, worst score drop first, with the selected
// question's image. Activating a row (double-click, Enter) asks the window to open that image and
// question with the method's settings, in compare mode against the unreduced model. GUI thread only.

#include <QStringList>
#include <QWidget>

#include <optional>

#include "methods/method_settings.h"
#include "tasks/eval/answer_changes.h"

class QComboBox;
class QLabel;
class QTableWidget;

namespace tokenscope {

class AnswerChangesView : public QWidget {
    Q_OBJECT
public:
    explicit AnswerChangesView(QWidget* parent = nullptr);

    // Reads and pairs the files; on failure the previous comparison stays and the message is
    // returned (empty on success).
    QString openResults(const QStringList& methodFiles, const QStringList& baselineFiles);
    enum class Filter { Worse, Better, AnyChange, All };
    void setFilter(Filter filter);
    int rowCount() const;
    const evaluation::AnswerChange* itemAt(int row) const;  // null outside the shown rows
    void activateRow(int row);
    QString summaryText() const;
    // The method's settings from its results file (empty when they cannot be read).
    std::optional<MethodSettings> methodSettings() const;
    // Asks for the method's results and then the unreduced model's (file dialogs).
    void chooseFiles();

Q_SIGNALS:
    // The window opens the item's image and question with the method's settings against unreduced.
    void openRequested(const tokenscope::evaluation::AnswerChange& item);

private:
    void fill();
    void showPreview();

    QComboBox* m_filter = nullptr;
    QLabel* m_summary = nullptr;
    QTableWidget* m_table = nullptr;
    QLabel* m_preview = nullptr;
    std::optional<evaluation::AnswerComparison> m_comparison;
    std::vector<int> m_rows;  // indices into m_comparison->items, as shown
};

}  // namespace tokenscope
