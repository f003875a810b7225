/* pending.h: statements that parse and check but cannot run yet (pending.def). */
#ifndef CAJAL_PENDING_H
#define CAJAL_PENDING_H

#include "diag.h"

typedef enum PendingKey {
#define PENDING(key, what, instead) PENDING_##key,
#include "pending.def"
#undef PENDING
    PENDING_COUNT
} PendingKey;

/* Reports, at `at`, that `word` needs a capability this build lacks, naming it
 * and what to use meanwhile. Always returns false, for `return pending_stop(...)`. */
bool pending_stop(Diags *d, Span at, const char *word, PendingKey key);

#endif
