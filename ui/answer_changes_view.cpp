#include "ui/answer_changes_view.h"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QImageReader>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "common/error.h"
#include "methods/method_json.h"

namespace tokenscope {

using evaluation::AnswerChange;
using evaluation::ChangeKind;

namespace {

QString scoreText(const std::optional<double>& score)
{
    return score ? QString::number(*score * 100.0, 'f', 0) + QStringLiteral("%") : QStringLiteral("–");
}

}  // namespace

AnswerChangesView::AnswerChangesView(QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    auto* open = new QPushButton(tr("Open results…"), this);
    open->setToolTip(tr("Choose the method's results and then the unreduced model's (files that tokenscope-cli eval "
                        "--dataset or eval-merge wrote), of the same dataset and model."));
    m_filter = new QComboBox(this);
    m_filter->addItem(tr("Worse (right → wrong)"));
    m_filter->addItem(tr("Better (wrong → right)"));
    m_filter->addItem(tr("Any change"));
    m_filter->addItem(tr("All questions"));
    m_filter->setToolTip(tr("Which questions to list: those whose score the reduction lowered or raised, every changed "
                            "answer, or all; the largest score drop first."));
    top->addWidget(open);
    top->addWidget(m_filter, 1);
    layout->addLayout(top);
    m_summary = new QLabel(tr("No results opened. Evaluate a dataset with and without the method "
                              "(tokenscope-cli eval --dataset …), then open both result files."),
                           this);
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
    m_table = new QTableWidget(0, 5, this);
    m_table->setHorizontalHeaderLabels({tr("Question"), tr("Type"), tr("Unreduced"), tr("Method"), tr("Score drop")});
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_table->verticalHeader()->setVisible(false);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setToolTip(tr("Double-click (or Enter) opens the question in the per-layer view, against the unreduced model."));
    // The selected question's image beside the list.
    auto* body = new QHBoxLayout;
    body->addWidget(m_table, 1);
    m_preview = new QLabel(this);
    m_preview->setAlignment(Qt::AlignCenter);
    m_preview->setMinimumSize(180, 140);
    body->addWidget(m_preview);
    layout->addLayout(body, 1);

    connect(open, &QPushButton::clicked, this, &AnswerChangesView::chooseFiles);
    connect(m_filter, &QComboBox::currentIndexChanged, this, &AnswerChangesView::fill);
    connect(m_table, &QTableWidget::itemSelectionChanged, this, &AnswerChangesView::showPreview);
    connect(m_table, &QTableWidget::cellActivated, this, [this](int row, int) { activateRow(row); });
}

void AnswerChangesView::chooseFiles()
{
    const QString filter = tr("Evaluation results (*.jsonl);;All files (*)");
    const QStringList method = QFileDialog::getOpenFileNames(this, tr("The method's results (one or more shards)"), {}, filter);
    if (method.isEmpty())
        return;
    const QStringList baseline = QFileDialog::getOpenFileNames(this, tr("The unreduced model's results"), {}, filter);
    if (baseline.isEmpty())
        return;
    const QString error = openResults(method, baseline);
    if (!error.isEmpty())
        m_summary->setText(tr("<b>Could not open the results:</b> %1").arg(error.toHtmlEscaped()));
}

QString AnswerChangesView::openResults(const QStringList& methodFiles, const QStringList& baselineFiles)
{
    std::vector<std::string> method, baseline;
    for (const auto& f : methodFiles)
        method.push_back(f.toStdString());
    for (const auto& f : baselineFiles)
        baseline.push_back(f.toStdString());
    try {
        m_comparison = evaluation::compareAnswers(method, baseline);
    } catch (const std::exception& e) {
        return QString::fromStdString(e.what());
    }
    fill();
    return {};
}

void AnswerChangesView::setFilter(Filter filter) { m_filter->setCurrentIndex(int(filter)); }

std::optional<MethodSettings> AnswerChangesView::methodSettings() const
{
    if (!m_comparison)
        return std::nullopt;
    try {
        return methodSettingsFromJson(m_comparison->methodHeader.at("method"));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

QString AnswerChangesView::summaryText() const { return m_summary->text(); }

void AnswerChangesView::fill()
{
    m_table->setRowCount(0);
    m_rows.clear();
    if (!m_comparison)
        return;
    const auto& c = *m_comparison;
    const auto filter = Filter(m_filter->currentIndex());
    for (int i = 0; i < int(c.items.size()); ++i) {
        const ChangeKind kind = c.items[std::size_t(i)].kind;
        const bool shown = filter == Filter::All || (filter == Filter::Worse && kind == ChangeKind::Worse) ||
                           (filter == Filter::Better && kind == ChangeKind::Better) ||
                           (filter == Filter::AnyChange && kind != ChangeKind::Same);
        if (shown)
            m_rows.push_back(i);
    }
    // Better: the largest rise first.
    if (filter == Filter::Better)
        std::reverse(m_rows.begin(), m_rows.end());
    m_table->setRowCount(int(m_rows.size()));
    for (int r = 0; r < int(m_rows.size()); ++r) {
        const AnswerChange& item = c.items[std::size_t(m_rows[std::size_t(r)])];
        const QStringList cells{QString::fromStdString(item.question), QString::fromStdString(item.group),
                                QStringLiteral("%1 (%2)").arg(QString::fromStdString(item.baselineAnswer), scoreText(item.baselineScore)),
                                QStringLiteral("%1 (%2)").arg(QString::fromStdString(item.methodAnswer), scoreText(item.methodScore)),
                                item.methodScore && item.baselineScore ? QString::number(item.drop() * 100.0, 'f', 0) : QStringLiteral("–")};
        for (int col = 0; col < cells.size(); ++col)
            m_table->setItem(r, col, new QTableWidgetItem(cells[col]));
    }
    const QString method = QString::fromStdString(c.methodHeader.value("method", nlohmann::json::object()).value("method", "?"));
    m_summary->setText(tr("%1 questions answered by both · %2 %3% vs unreduced %4% · %5 worse, %6 better, %7 changed at the "
                          "same score%8")
                           .arg(c.items.size())
                           .arg(method)
                           .arg(c.methodMean * 100.0, 0, 'f', 2)
                           .arg(c.baselineMean * 100.0, 0, 'f', 2)
                           .arg(c.worse)
                           .arg(c.better)
                           .arg(c.changed)
                           .arg(c.onlyOneSide ? tr(" · %1 answered in one file only").arg(c.onlyOneSide) : QString()));
    if (!m_rows.empty())
        m_table->selectRow(0);
    showPreview();
}

int AnswerChangesView::rowCount() const { return int(m_rows.size()); }

const AnswerChange* AnswerChangesView::itemAt(int row) const
{
    if (!m_comparison || row < 0 || row >= int(m_rows.size()))
        return nullptr;
    return &m_comparison->items[std::size_t(m_rows[std::size_t(row)])];
}

void AnswerChangesView::activateRow(int row)
{
    if (const AnswerChange* item = itemAt(row))
        Q_EMIT openRequested(*item);
}

void AnswerChangesView::showPreview()
{
    const auto selected = m_table->selectionModel()->selectedRows();
    const AnswerChange* item = selected.isEmpty() ? nullptr : itemAt(selected.front().row());
    if (!item || item->images.empty()) {
        m_preview->clear();
        return;
    }
    QImageReader reader(QString::fromStdString(item->images.front()));
    reader.setAutoTransform(true);
    const QSize size = reader.size();
    if (size.isValid())
        reader.setScaledSize(size.scaled(QSize(180, 160), Qt::KeepAspectRatio));
    const QImage image = reader.read();
    if (image.isNull())
        m_preview->setText(tr("(image not found: %1)").arg(QString::fromStdString(item->images.front())));
    else
        m_preview->setPixmap(QPixmap::fromImage(image));
}

}  // namespace tokenscope
