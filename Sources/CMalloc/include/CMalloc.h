#ifndef CMALLOC_H
#define CMALLOC_H

#include <stddef.h>

/// Bytes the C allocator holds as free chunks in its arenas (glibc's `mallinfo2().fordblks`), or 0 where the C
/// library cannot say.
size_t cmalloc_free_bytes(void);

/// Gives the free pages inside the allocator's arenas back to the system (glibc's `malloc_trim(0)`).
/// Returns 1 if any memory was given back, 0 if none was or the C library cannot do it.
int cmalloc_return_free_memory(void);

#endif
