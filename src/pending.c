/* pending.c: the message for a capability listed in pending.def. */
#include "pending.h"

static const struct {
    const char *what, *instead;
} pending[] = {
#define PENDING(key, what, instead) [PENDING_##key] = { what, instead },
#include "pending.def"
#undef PENDING
};

bool pending_stop(Diags *d, Span at, const char *word, PendingKey key)
{
    diag_error(d, at, "'%s' cannot run yet: this version of cajal does not have %s", word, pending[key].what);
    if (pending[key].instead[0])
        diag_hint(d, "%s", pending[key].instead);
    return false;
}
