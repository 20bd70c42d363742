#include "ui/method_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace tokenscope {

namespace {

int decimalsFor(double step) {
    int decimals = 0;
    for (double s = step; decimals < 4 && std::abs(s - std::round(s)) > 1e-9; s *= 10) ++decimals;
    return decimals;
}

QString listText(const std::vector<int>& values) {
    QStringList parts;
    for (int v : values) parts << QString::number(v);
    return parts.join(',');
}

std::vector<int> parseList(const QString& text) {
    std::vector<int> values;
    for (const QString& part : text.split(',', Qt::SkipEmptyParts)) {
        bool isNumber = false;
        const int v = part.trimmed().toInt(&isNumber);
        if (isNumber) values.push_back(v);
    }
    return values;
}

// Integers with a small range are sliders; seeds and pixel sizes are spin boxes.
bool integerAsSlider(const KnobSpec& knob) { return knob.maximum - knob.minimum <= 256; }

}  // namespace

ValueSlider::ValueSlider(double minimum, double maximum, double step, int decimals, QWidget* parent)
    : QWidget(parent), m_minimum(minimum), m_step(step), m_decimals(decimals)
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setRange(0, int(std::lround((maximum - minimum) / step)));
    m_label = new QLabel(this);
    m_label->setMinimumWidth(38);
    m_label->setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    layout->addWidget(m_slider, 1);
    layout->addWidget(m_label);
    connect(m_slider, &QSlider::valueChanged, this, [this] {
        m_label->setText(QString::number(value(), 'f', m_decimals));
        Q_EMIT valueChanged(value());
    });
    m_label->setText(QString::number(value(), 'f', m_decimals));
}

double ValueSlider::value() const { return m_minimum + m_slider->value() * m_step; }

void ValueSlider::setValue(double value)
{
    const QSignalBlocker blocker(m_slider);
    m_slider->setValue(int(std::lround((value - m_minimum) / m_step)));
    m_label->setText(QString::number(this->value(), 'f', m_decimals));
}

MethodPanel::MethodPanel(FamilyKind family, QWidget* parent) : QWidget(parent), m_family(family)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* top = new QFormLayout;
    m_method = new QComboBox(this);
    m_method->setToolTip(tr("How the model saves work: by removing (pruning) or combining (merging) tokens as they pass "
                            "through the layers."));
    top->addRow(tr("Method"), m_method);
    m_preset = new QComboBox(this);
    m_preset->setToolTip(tr("Settings of the method's paper for each task; moving a knob makes them custom."));
    top->addRow(tr("Preset"), m_preset);
    layout->addLayout(top);
    m_methodHint = new QLabel(this);
    m_methodHint->setWordWrap(true);
    m_methodHint->setStyleSheet(QStringLiteral("color: #555;"));
    layout->addWidget(m_methodHint);
    m_knobBox = new QWidget(this);
    layout->addWidget(m_knobBox);
    m_summary = new QLabel(this);
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_summary->setStyleSheet(QStringLiteral("font-family: monospace; font-size: 11px;"));
    m_summary->setToolTip(tr("The settings in one line, as tokenscope-cli --method prints them."));
    layout->addWidget(m_summary);

    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        if (m_isUpdating)
            return;
        const std::string id = m_method->currentData().toString().toStdString();
        m_remembered[m_current.method()] = m_current;
        const auto found = m_remembered.find(id);
        m_current = found != m_remembered.end() ? found->second : MethodSettings(id);
        buildKnobs();
        showSummary();
        Q_EMIT settingsChanged();
    });
    connect(m_preset, &QComboBox::currentIndexChanged, this, [this] {
        if (m_isUpdating)
            return;
        const QString name = m_preset->currentData().toString();
        if (!name.isEmpty())
            applyPreset(name);
    });
    rebuildMethods();
}

const MethodDescriptor& MethodPanel::shown() const { return methodDescriptor(m_current.method()); }

void MethodPanel::setFamily(FamilyKind family)
{
    if (family == m_family)
        return;
    m_family = family;
    rebuildMethods();
}

void MethodPanel::rebuildMethods()
{
    m_isUpdating = true;
    m_method->clear();
    for (const MethodDescriptor* m : methodsFor(m_family)) {
        m_method->addItem(QString::fromStdString(m->name), QString::fromStdString(m->id));
        const int row = m_method->count() - 1;
        m_method->setItemData(row, QString::fromStdString(m->summary), Qt::ToolTipRole);
        const auto available = m_available.find(m->id);
        if (available != m_available.end() && !available->second.first) {
            if (auto* model = qobject_cast<QStandardItemModel*>(m_method->model()))
                model->item(row)->setEnabled(false);
            m_method->setItemData(row, available->second.second, Qt::ToolTipRole);
        }
    }
    if (!shown().serves(m_family))
        m_current = MethodSettings();
    m_method->setCurrentIndex(std::max(0, m_method->findData(QString::fromStdString(m_current.method()))));
    m_isUpdating = false;
    buildKnobs();
    showSummary();
}

void MethodPanel::setMethodAvailable(const std::string& method, bool isAvailable, const QString& reason)
{
    m_available[method] = {isAvailable, reason};
    const int row = m_method->findData(QString::fromStdString(method));
    if (row < 0)
        return;
    if (auto* model = qobject_cast<QStandardItemModel*>(m_method->model()))
        model->item(row)->setEnabled(isAvailable);
    m_method->setItemData(row,
                          isAvailable ? QString::fromStdString(methodDescriptor(method).summary) : reason,
                          Qt::ToolTipRole);
}

void MethodPanel::setLayerCount(int layerCount)
{
    layerCount = std::max(1, layerCount);
    if (layerCount == m_layerCount && !m_chips.empty())
        return;
    m_layerCount = layerCount;
    // Layer lists beyond the new depth lose their missing layers.
    for (const auto& knob : shown().knobs) {
        if (!knob.layerList)
            continue;
        std::vector<int> kept;
        for (int l : m_current.intList(knob.key))
            if (l < layerCount)
                kept.push_back(l);
        m_current.set(knob.key, kept);
    }
    const QString preset = m_preset->currentData().toString();
    if (!preset.isEmpty()) {
        applyPreset(preset);
        return;
    }
    buildKnobs();
    showSummary();
}

void MethodPanel::buildKnobs()
{
    const bool wasUpdating = m_isUpdating;
    m_isUpdating = true;
    delete m_knobBox->layout();
    for (QWidget* child : m_knobBox->findChildren<QWidget*>(QString(), Qt::FindDirectChildrenOnly))
        delete child;
    m_knobWidgets.clear();
    m_chips.clear();

    const auto& method = shown();
    m_methodHint->setText(QString::fromStdString(method.summary));
    m_methodHint->setVisible(method.knobs.empty());

    m_preset->clear();
    const auto presets = presetsFor(method, m_family);
    for (const MethodPreset* p : presets)
        m_preset->addItem(QString::fromStdString(p->label), QString::fromStdString(p->name));
    m_preset->addItem(tr("custom"), QString());
    m_preset->setCurrentIndex(m_preset->count() - 1);
    m_preset->setVisible(!presets.empty());
    if (auto* top = qobject_cast<QFormLayout*>(static_cast<QVBoxLayout*>(layout())->itemAt(0)->layout()))
        top->setRowVisible(m_preset, !presets.empty());

    auto* box = new QVBoxLayout(m_knobBox);
    box->setContentsMargins(0, 0, 0, 0);
    m_form = new QFormLayout;
    m_form->setContentsMargins(0, 0, 0, 0);
    box->addLayout(m_form);
    m_more = nullptr;
    m_advancedBox = nullptr;
    m_advancedForm = nullptr;
    const bool hasAdvanced = std::any_of(method.knobs.begin(), method.knobs.end(), [](const KnobSpec& k) { return k.advanced; });
    if (hasAdvanced) {
        m_more = new QToolButton(m_knobBox);
        m_more->setText(tr("More"));
        m_more->setCheckable(true);
        m_more->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
        m_more->setArrowType(Qt::RightArrow);
        m_more->setAutoRaise(true);
        m_more->setToolTip(tr("The method's variants for experiments (reference-mode options and the like)."));
        m_advancedBox = new QWidget(m_knobBox);
        m_advancedForm = new QFormLayout(m_advancedBox);
        m_advancedForm->setContentsMargins(0, 0, 0, 0);
        m_advancedBox->setVisible(false);
        box->addWidget(m_more);
        box->addWidget(m_advancedBox);
        connect(m_more, &QToolButton::toggled, this, [this](bool on) {
            m_advancedBox->setVisible(on);
            m_more->setArrowType(on ? Qt::DownArrow : Qt::RightArrow);
        });
    }

    for (const auto& knob : method.knobs) {
        QFormLayout* form = knob.advanced ? m_advancedForm : m_form;
        QWidget* parent = knob.advanced ? m_advancedBox : m_knobBox;
        const QString tooltip = QString::fromStdString(knob.tooltip);
        const QString label = QString::fromStdString(knob.label);
        QWidget* widget = nullptr;
        switch (knob.kind) {
        case KnobKind::Number: {
            auto* slider = new ValueSlider(knob.minimum, knob.maximum, knob.step, decimalsFor(knob.step), parent);
            slider->setValue(m_current.number(knob.key));
            connect(slider, &ValueSlider::valueChanged, this, &MethodPanel::knobEdited);
            widget = slider;
            break;
        }
        case KnobKind::Integer:
            if (integerAsSlider(knob)) {
                auto* slider = new ValueSlider(knob.minimum, knob.maximum, 1, 0, parent);
                slider->setValue(double(m_current.integer(knob.key)));
                connect(slider, &ValueSlider::valueChanged, this, &MethodPanel::knobEdited);
                widget = slider;
            } else {
                auto* spin = new QSpinBox(parent);
                spin->setRange(int(knob.minimum), int(std::min(knob.maximum, 2147483647.0)));
                if (knob.minimum == 0 && std::holds_alternative<int64_t>(knob.defaultValue) &&
                    std::get<int64_t>(knob.defaultValue) == 0 && knob.key == "resolution")
                    spin->setSpecialValueText(tr("from the kept fraction"));
                spin->setValue(int(m_current.integer(knob.key)));
                connect(spin, &QSpinBox::valueChanged, this, &MethodPanel::knobEdited);
                widget = spin;
            }
            break;
        case KnobKind::Flag: {
            auto* check = new QCheckBox(label, parent);
            check->setChecked(m_current.flag(knob.key));
            connect(check, &QCheckBox::toggled, this, &MethodPanel::knobEdited);
            widget = check;
            break;
        }
        case KnobKind::Choice: {
            auto* combo = new QComboBox(parent);
            for (const auto& c : knob.choices)
                combo->addItem(QString::fromStdString(c), QString::fromStdString(c));
            combo->setCurrentIndex(std::max(0, combo->findData(QString::fromStdString(m_current.choice(knob.key)))));
            connect(combo, &QComboBox::currentIndexChanged, this, &MethodPanel::knobEdited);
            widget = combo;
            break;
        }
        case KnobKind::IntList:
            if (knob.layerList) {
                auto* chipBox = new QWidget(parent);
                auto* grid = new QGridLayout(chipBox);
                grid->setContentsMargins(0, 0, 0, 0);
                grid->setSpacing(2);
                const auto checked = m_current.intList(knob.key);
                const int columns = std::min(m_layerCount, 6);
                auto& chips = m_chips[knob.key];
                for (int layer = 0; layer < m_layerCount; ++layer) {
                    auto* chip = new QToolButton(chipBox);
                    chip->setText(QString::number(layer));
                    chip->setCheckable(true);
                    chip->setMinimumWidth(26);
                    chip->setChecked(std::find(checked.begin(), checked.end(), layer) != checked.end());
                    chip->setToolTip(tr("Layer %1: %2").arg(layer).arg(tooltip));
                    chip->setStyleSheet(QStringLiteral("QToolButton:checked { background: #e69f00; color: black; font-weight: bold; }"));
                    connect(chip, &QToolButton::toggled, this, &MethodPanel::knobEdited);
                    grid->addWidget(chip, layer / columns, layer % columns);
                    chips.push_back(chip);
                }
                widget = chipBox;
            } else {
                auto* edit = new QLineEdit(parent);
                edit->setText(listText(m_current.intList(knob.key)));
                edit->setPlaceholderText(tr("e.g. 3,6,9 (empty: the default)"));
                connect(edit, &QLineEdit::editingFinished, this, &MethodPanel::knobEdited);
                widget = edit;
            }
            break;
        }
        widget->setToolTip(tooltip);
        if (knob.kind == KnobKind::Flag)
            form->addRow(QString(), widget);
        else
            form->addRow(label, widget);
        m_knobWidgets[knob.key] = widget;
    }
    m_isUpdating = wasUpdating;
}

void MethodPanel::readKnobs()
{
    for (const auto& knob : shown().knobs) {
        QWidget* widget = m_knobWidgets.at(knob.key);
        try {
            switch (knob.kind) {
            case KnobKind::Number:
                m_current.set(knob.key, static_cast<ValueSlider*>(widget)->value());
                break;
            case KnobKind::Integer:
                m_current.set(knob.key, integerAsSlider(knob) ? int64_t(std::lround(static_cast<ValueSlider*>(widget)->value()))
                                                              : int64_t(static_cast<QSpinBox*>(widget)->value()));
                break;
            case KnobKind::Flag:
                m_current.set(knob.key, static_cast<QCheckBox*>(widget)->isChecked());
                break;
            case KnobKind::Choice:
                m_current.set(knob.key, static_cast<QComboBox*>(widget)->currentData().toString().toStdString());
                break;
            case KnobKind::IntList: {
                std::vector<int> values;
                if (knob.layerList) {
                    const auto& chips = m_chips.at(knob.key);
                    for (int layer = 0; layer < int(chips.size()); ++layer)
                        if (chips[size_t(layer)]->isChecked())
                            values.push_back(layer);
                } else {
                    values = parseList(static_cast<QLineEdit*>(widget)->text());
                }
                m_current.set(knob.key, values);
                break;
            }
            }
        } catch (const Error&) {
            // A value the knob refuses (a list entry out of range): the previous one stays.
        }
    }
}

void MethodPanel::knobEdited()
{
    if (m_isUpdating)
        return;
    readKnobs();
    {
        const QSignalBlocker blocker(m_preset);
        m_preset->setCurrentIndex(m_preset->count() - 1);
    }
    showSummary();
    Q_EMIT settingsChanged();
}

void MethodPanel::showSummary()
{
    m_summary->setText(QString::fromStdString(describe(m_current)));
}

void MethodPanel::setMethodDefaults(const MethodSettings& settings)
{
    if (settings.method() == m_current.method())
        setSettings(settings);
    else
        m_remembered[settings.method()] = settings;
}

MethodSettings MethodPanel::settings() const { return m_current; }

void MethodPanel::setSettings(const MethodSettings& settings)
{
    m_isUpdating = true;
    m_remembered[m_current.method()] = m_current;
    m_current = settings;
    if (!shown().serves(m_family))
        m_current = MethodSettings();
    m_method->setCurrentIndex(std::max(0, m_method->findData(QString::fromStdString(m_current.method()))));
    m_isUpdating = false;
    buildKnobs();  // explicit settings are custom until applyPreset says otherwise
    showSummary();
}

void MethodPanel::applyPreset(const QString& name)
{
    const auto& method = shown();
    MethodSettings preset = presetSettings(method.id, name.toStdString(), m_family);
    // The preset's layer lists name layers of a model of its depth (ViLT-B/32's 12 encoder layers,
    // METER's 6 fusion layers): a shallower model gets them at the same relative depth.
    int presetDepth = 12;
    for (const MethodPreset* p : presetsFor(method, m_family))
        if (p->name == name.toStdString())
            presetDepth = p->depth;
    m_note.clear();
    for (const auto& knob : method.knobs) {
        if (!knob.layerList || m_layerCount >= presetDepth)
            continue;
        const auto original = preset.intList(knob.key);
        const auto scaled = presetLayersAtDepth(original, m_layerCount, presetDepth);
        preset.set(knob.key, scaled);
        m_note = tr("Preset layers %1 are for %2 layers; on this %3-layer model they sit at the same depth: %4.")
                     .arg(listText(original))
                     .arg(presetDepth)
                     .arg(m_layerCount)
                     .arg(listText(scaled));
    }
    // The preset's knobs over the current ones (knobs the preset does not name keep their values).
    MethodSettings settings = m_current;
    for (const auto& [key, value] : preset.values())
        settings.set(key, value);
    setSettings(settings);
    {
        const QSignalBlocker blocker(m_preset);
        m_preset->setCurrentIndex(m_preset->findData(name));
    }
    Q_EMIT noteChanged(m_note);
    Q_EMIT settingsChanged();
}

ValueSlider* MethodPanel::slider(const std::string& key) const
{
    const auto it = m_knobWidgets.find(key);
    return it == m_knobWidgets.end() ? nullptr : qobject_cast<ValueSlider*>(it->second);
}

QWidget* MethodPanel::knobWidget(const std::string& key) const
{
    const auto it = m_knobWidgets.find(key);
    return it == m_knobWidgets.end() ? nullptr : it->second;
}

}  // namespace tokenscope
