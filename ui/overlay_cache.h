#pragma once

// The rendered pictures of one result, per layer: A (the result's overlay), B (the reference's, in
// compare mode) and their diff. Rendering a layer costs tens of milliseconds (a smooth resize and
// per-pixel tints at ~768 px), too much for the GUI thread on every knob change or arrow key, so
// pictures are rendered on Qt's global thread pool (QtConcurrent) and kept until the result, the
// input or the style changes. The cache itself is GUI thread only; the renders only read their
// OverlayJob (shared, immutable results and a copy of the image).

#include <QFuture>
#include <QFutureWatcher>
#include <QHash>
#include <QImage>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <vector>

#include "ui/run_types.h"
#include "viz/overlay.h"

namespace tokenscope {

// What to draw: an immutable snapshot.
struct OverlayJob {
    ImageU8 image;
    quint64 imageId = 0;  // MainWindow's count of images set; equal ids = same pixels
    SharedRunResult result;
    SharedRunResult reference;  // null: not in compare mode
    OverlayStyle style;
};

bool isSameOverlayJob(const OverlayJob& a, const OverlayJob& b);
// The reference's layer beside layer `index` of A: the same one for traces of one depth, else the
// one at the same relative depth (A and B are different models).
int referenceLayerIndex(int layers, int referenceLayers, int index);  // same result, reference, input and style

struct LayerPictures {
    QImage main;
    int mainScale = 1;
    QImage reference;
    int referenceScale = 1;
    int referenceIndex = 0;  // the reference's layer shown (another model: at the same relative depth)
    QImage diff;
    QString diffError;  // why there is no diff (e.g. different patch grids)
};

// Renders layer `index` of the job; any thread. Throws Error as renderLayerOverlay does.
LayerPictures renderLayerPictures(const OverlayJob& job, int index);

class OverlayCache : public QObject {
    Q_OBJECT
public:
    explicit OverlayCache(QObject* parent = nullptr);
    ~OverlayCache() override;

    // Starts over with this job unless it is the one cached (then nothing changes).
    void setJob(const OverlayJob& job);
    const OverlayJob& job() const { return m_job; }
    bool contains(int index) const { return m_pictures.contains(index); }
    void insert(int index, LayerPictures pictures) { m_pictures.insert(index, std::move(pictures)); }
    // From the cache, or rendered now on the calling thread (and cached). Throws Error.
    const LayerPictures& pictures(int index);
    // Whether layer `index` is cached; if not, makes sure it is being rendered in the background
    // (first in line) and announced by layerReady.
    bool request(int index, int layerCount);
    // Renders the missing layers among `indices` in the background, nearest to `around` first;
    // each arrives in the cache (if the job is still current) and is announced by layerReady.
    void prefetch(const std::vector<int>& indices, int around);

    // Renders layer `index` of `job` in the background and calls `ready` on context's thread
    // (never after context is gone). A failed render gives empty pictures, the message in diffError.
    static void renderAsync(const OverlayJob& job, int index, QObject* context,
                            std::function<void(const LayerPictures& pictures)> ready);

Q_SIGNALS:
    void layerReady(int index);
    void layerFailed(int index, const QString& message);  // a background render threw

private:
    struct IndexedPictures {
        int index = -1;
        LayerPictures pictures;
        QString error;
    };
    void stopPrefetch();

    OverlayJob m_job;
    QHash<int, LayerPictures> m_pictures;
    std::vector<int> m_prefetchQueue;  // the running prefetch's layers, in order
    std::unique_ptr<QFuture<IndexedPictures>> m_prefetch;
    QFutureWatcher<IndexedPictures>* m_prefetchWatcher = nullptr;  // child; replaced with each prefetch
};

}  // namespace tokenscope
