/* static_prog -- a statically linked program (no dynamic loader runs it, so no
 * LD_PRELOAD): famsrun must refuse it unless told --allow-unprotected. */
#include <stdio.h>

int main(void)
{
	puts("static_prog ran");
	return 0;
}
