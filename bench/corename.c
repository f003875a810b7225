/* corename.c: the OpenBLAS kernel set and build this machine runs, for
 * bench/results.txt (OPENBLAS_CORETYPE, when set, changes the answer). */
#include <cblas.h>
#include <stdio.h>

int main(void)
{
    printf("%s (%s)\n", openblas_get_corename(), openblas_get_config());
    return 0;
}
