/* The page bitmaps and their summary (pagebits.h): random runs of pages set and
 * cleared, at random places of a 1 TiB bitmap and near the word and summary-word
 * edges, agree with a plain list of pages, and bits_next finds exactly the next
 * set page from anywhere; a word whose summary bit is clear is always zero. */
#include "engine_harness.h"
#include "pagebits.h"

#include <sys/mman.h>

#define SPOTS 8          /* places of the bitmap the runs fall around */
#define SPAN (64 * 64 * 3) /* pages around each: three summary words */

static uint64_t rnd(void)
{
	static uint64_t x = 0x9e3779b97f4a7c15ull;
	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	return x;
}

int main(void)
{
	uint64_t *bits = mmap(NULL, FAMS_BITMAP_BYTES, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (bits == MAP_FAILED)
		FAIL("mmap");
	uint64_t spot[SPOTS];
	static unsigned char model[SPOTS][SPAN];
	for (int s = 0; s < SPOTS; s++) /* the first and last pages, then anywhere */
		spot[s] = s == 0 ? 0 : s == 1 ? FAMS_MAX_FILE_PAGES - SPAN : rnd() % (FAMS_MAX_FILE_PAGES - SPAN);
	for (int round = 0; round < 20000; round++) {
		int s = (int)(rnd() % SPOTS);
		uint64_t a = rnd() % SPAN, n = 1 + rnd() % (rnd() % 4 ? 70 : 300);
		if (a + n > SPAN)
			n = SPAN - a;
		bool on = rnd() % 3 != 0;
		bits_set(bits, spot[s] + a, spot[s] + a + n, on);
		for (uint64_t i = a; i < a + n; i++)
			model[s][i] = on;
		/* From a random page of a random spot, the next set page in the spot. */
		int t = (int)(rnd() % SPOTS);
		uint64_t from = rnd() % SPAN, to = from + rnd() % (SPAN - from + 1), want = to;
		for (uint64_t i = from; i < to; i++)
			if (model[t][i]) {
				want = i;
				break;
			}
		uint64_t got = bits_next(bits, spot[t] + from, spot[t] + to) - spot[t];
		if (got != want)
			FAIL("round %d: bits_next from %llu to %llu of spot %d gave %llu, not %llu", round,
			     (unsigned long long)from, (unsigned long long)to, t, (unsigned long long)got,
			     (unsigned long long)want);
	}
	/* Every bit as the model says, and no non-zero word behind a clear summary bit. */
	for (int s = 0; s < SPOTS; s++)
		for (uint64_t i = 0; i < SPAN; i++) {
			uint64_t p = spot[s] + i, w = p / 64;
			if (bit_test(bits, p) != model[s][i])
				FAIL("spot %d page %llu: bit %d, model %d", s, (unsigned long long)i, bit_test(bits, p),
				     model[s][i]);
			if (bits[w] && !(bits[FAMS_BITMAP_WORDS + w / 64] >> (w % 64) & 1))
				FAIL("word %llu is set, its summary bit clear", (unsigned long long)w);
		}
	/* Across the whole bitmap: exactly the model's pages, in order. */
	uint64_t found = 0, expected = 0;
	for (int s = 0; s < SPOTS; s++)
		for (uint64_t i = 0; i < SPAN; i++)
			expected += model[s][i];
	for (uint64_t p = bits_next(bits, 0, FAMS_MAX_FILE_PAGES); p < FAMS_MAX_FILE_PAGES;
	     p = bits_next(bits, p + 1, FAMS_MAX_FILE_PAGES))
		found++;
	if (found != expected)
		FAIL("a walk of the whole bitmap found %llu pages, not %llu", (unsigned long long)found,
		     (unsigned long long)expected);
	printf("20000 runs set and cleared, %llu pages set, bits_next agreed every time\n",
	       (unsigned long long)found);
	return 0;
}
