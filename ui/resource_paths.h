#pragma once

// Where the bundled resources (models/, images/, the vocab for random-weight models) live.
// Any thread (reads the environment and the file system only).

#include <QString>

namespace tokenscope {

// $TOKENSCOPE_RESOURCES, next to the executable (../share/tokenscope/resources), the source tree
// the build was configured from, or the nearest resources/ above the executable.
QString resourceDir();

// The WordPiece vocab given to built-in architectures with random weights (3062 BERT uncased
// pieces, ids < 30522, so they fit every ViLT embedding table): models/vocab-bert-small.txt.
QString bundledVocabPath();

}  // namespace tokenscope
