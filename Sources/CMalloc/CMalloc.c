// glibc keeps memory that a program frees inside its arenas: only the top of each heap is given back on its own, so
// after a burst (a reconnection storm, a thousand TLS handshakes) a process keeps its peak size. `malloc_trim`
// releases the free pages in the middle of the heaps too. Other C libraries (musl) give memory back by themselves.
#include <stdlib.h>
#include "CMalloc.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>

size_t cmalloc_free_bytes(void) {
  struct mallinfo2 info = mallinfo2();
  return info.fordblks;
}

int cmalloc_return_free_memory(void) { return malloc_trim(0); }

#else

size_t cmalloc_free_bytes(void) { return 0; }

int cmalloc_return_free_memory(void) { return 0; }

#endif
