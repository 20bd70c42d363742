#include "ui/overlay_cache.h"

#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>

#include "common/error.h"

namespace tokenscope {

bool isSameOverlayJob(const OverlayJob& a, const OverlayJob& b)
{
    const OverlayStyle& x = a.style;
    const OverlayStyle& y = b.style;
    return a.result == b.result && a.reference == b.reference && a.imageId == b.imageId &&
           a.image.pixels.size() == b.image.pixels.size() && x.showPruned == y.showPruned &&
           x.showMerged == y.showMerged && x.showHeatmap == y.showHeatmap && x.showGrid == y.showGrid &&
           x.showDropLabels == y.showDropLabels && x.dimAlpha == y.dimAlpha && x.heatmapAlpha == y.heatmapAlpha &&
           x.scale == y.scale;
}

int referenceLayerIndex(int layers, int referenceLayers, int index)
{
    if (referenceLayers == layers || layers <= 1)
        return std::min(index, referenceLayers - 1);
    return int(std::lround(double(index) * (referenceLayers - 1) / (layers - 1)));
}

LayerPictures renderLayerPictures(const OverlayJob& job, int index)
{
    LayerPictures pictures;
    const Trace& trace = job.result->trace;
    pictures.main = renderLayerOverlay(job.image, trace, index, job.style);
    pictures.mainScale = overlayScale(trace, job.style);
    if (job.reference && !job.reference->trace.layers.empty()) {
        const Trace& reference = job.reference->trace;
        const int referenceIndex = referenceLayerIndex(int(trace.layers.size()), int(reference.layers.size()), index);
        pictures.reference = renderLayerOverlay(job.image, reference, referenceIndex, job.style);
        pictures.referenceScale = overlayScale(reference, job.style);
        pictures.referenceIndex = referenceIndex;
        try {
            if (reference.layers.size() != trace.layers.size())
                throw Error("B is another model (its layers and patches differ from A's)");
            pictures.diff = renderComparisonDiff(job.image, trace, reference, index);
        } catch (const std::exception& error) {
            pictures.diffError = QString::fromStdString(error.what());
        }
    }
    return pictures;
}

OverlayCache::OverlayCache(QObject* parent) : QObject(parent) {}

OverlayCache::~OverlayCache()
{
    if (m_prefetch)
        m_prefetch->cancel();  // the task stops after its current layer; its results go nowhere
}

void OverlayCache::setJob(const OverlayJob& job)
{
    if (m_job.result && isSameOverlayJob(m_job, job))
        return;
    stopPrefetch();
    m_job = job;
    m_pictures.clear();
}

void OverlayCache::stopPrefetch()
{
    if (!m_prefetch)
        return;
    m_prefetch->cancel();
    m_prefetchWatcher->disconnect(this);
    m_prefetchWatcher->deleteLater();
    m_prefetchWatcher = nullptr;
    m_prefetch.reset();
    m_prefetchQueue.clear();
}

const LayerPictures& OverlayCache::pictures(int index)
{
    auto found = m_pictures.find(index);
    if (found == m_pictures.end())
        found = m_pictures.insert(index, renderLayerPictures(m_job, index));
    return *found;
}

bool OverlayCache::request(int index, int layerCount)
{
    if (m_pictures.contains(index))
        return true;
    const bool isQueued = m_prefetch && !m_prefetch->isFinished() &&
                          std::find(m_prefetchQueue.begin(), m_prefetchQueue.end(), index) != m_prefetchQueue.end();
    // Queued behind other layers: start over from this one (a scrub goes where the user looks).
    if (!isQueued || m_prefetchQueue.front() != index) {
        std::vector<int> all(size_t(std::max(0, layerCount)));
        for (int i = 0; i < layerCount; ++i)
            all[size_t(i)] = i;
        prefetch(all, index);
    }
    return false;
}

void OverlayCache::prefetch(const std::vector<int>& indices, int around)
{
    std::vector<int> missing;
    for (int index : indices)
        if (!m_pictures.contains(index))
            missing.push_back(index);
    if (missing.empty() || !m_job.result)
        return;
    std::stable_sort(missing.begin(), missing.end(),
                     [around](int a, int b) { return std::abs(a - around) < std::abs(b - around); });
    stopPrefetch();
    m_prefetchQueue = missing;
    // One pool task renders the layers one after the other: the inference worker keeps the other
    // cores. Each layer is reported as it is done.
    const OverlayJob job = m_job;
    m_prefetch = std::make_unique<QFuture<IndexedPictures>>(
        QtConcurrent::run([job, missing](QPromise<IndexedPictures>& promise) {
            for (int index : missing) {
                if (promise.isCanceled())
                    return;
                try {
                    promise.addResult(IndexedPictures{index, renderLayerPictures(job, index), {}});
                } catch (const std::exception& error) {
                    promise.addResult(IndexedPictures{index, {}, QString::fromStdString(error.what())});
                }
            }
        }));
    m_prefetchWatcher = new QFutureWatcher<IndexedPictures>(this);
    connect(m_prefetchWatcher, &QFutureWatcher<IndexedPictures>::resultReadyAt, this, [this](int at) {
        IndexedPictures done = m_prefetchWatcher->resultAt(at);
        m_prefetchQueue.erase(std::remove(m_prefetchQueue.begin(), m_prefetchQueue.end(), done.index), m_prefetchQueue.end());
        if (!done.error.isEmpty()) {
            Q_EMIT layerFailed(done.index, done.error);
            return;
        }
        if (m_pictures.contains(done.index))
            return;
        m_pictures.insert(done.index, std::move(done.pictures));
        Q_EMIT layerReady(done.index);
    });
    m_prefetchWatcher->setFuture(*m_prefetch);
}

void OverlayCache::renderAsync(const OverlayJob& job, int index, QObject* context,
                               std::function<void(const LayerPictures& pictures)> ready)
{
    auto* watcher = new QFutureWatcher<LayerPictures>(context);
    QObject::connect(watcher, &QFutureWatcher<LayerPictures>::finished, context, [watcher, ready = std::move(ready)] {
        ready(watcher->result());
        watcher->deleteLater();
    });
    watcher->setFuture(QtConcurrent::run([job, index] {
        try {
            return renderLayerPictures(job, index);
        } catch (const std::exception& error) {
            LayerPictures failed;
            failed.diffError = QString::fromStdString(error.what());
            return failed;
        }
    }));
}

}  // namespace tokenscope
