"""py_mmap.py FILE -- Python's mmap module against one file: writes, whole and ranged
flush() (msync), resize() (ftruncate through a duplicated descriptor, then
mremap(MREMAP_MAYMOVE)), then reads everything back through a fresh descriptor
and checks it.  Exits non-zero with a message on the first difference."""
import mmap
import os
import sys

PAGE = mmap.PAGESIZE
path = sys.argv[1]

def expect(cond, what):
    if not cond:
        sys.exit(f"py_mmap: {what}")

with open(path, "wb") as f:
    f.write(b"." * (8 * PAGE))

with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    expect(len(m) == 8 * PAGE, "initial size")
    m[0:5] = b"hello"
    m[3 * PAGE:3 * PAGE + 5] = b"world"
    m.flush()                                  # whole mapping
    m[5 * PAGE:5 * PAGE + 6] = b"ranged"
    m.flush(5 * PAGE, PAGE)                    # one page
    # Grow: ftruncate through the mapping's own (duplicated) descriptor, then mremap.
    m.resize(20 * PAGE)
    expect(len(m) == 20 * PAGE, "size after growing")
    expect(os.fstat(f.fileno()).st_size == 20 * PAGE, "file size after growing")
    expect(m[0:5] == b"hello" and m[3 * PAGE:3 * PAGE + 5] == b"world", "bytes kept across resize")
    m[19 * PAGE:19 * PAGE + 4] = b"tail"
    m.flush()
    # Shrink, then write below the new end.
    m.resize(10 * PAGE + 100)
    expect(os.fstat(f.fileno()).st_size == 10 * PAGE + 100, "file size after shrinking")
    m[10 * PAGE:10 * PAGE + 4] = b"edge"
    m.flush()
    # read()/write() on the file object see the mapping's bytes, as with MAP_SHARED.
    f.seek(5 * PAGE)
    expect(f.read(6) == b"ranged", "read() sees the mapping")
    f.seek(PAGE)
    f.write(b"via write")
    f.flush()
    expect(m[PAGE:PAGE + 9] == b"via write", "the mapping sees write()")
    m.flush()
    m.close()

with open(path, "rb") as f:
    data = f.read()
expect(len(data) == 10 * PAGE + 100, f"final size {len(data)}")
expect(data[0:5] == b"hello", "hello")
expect(data[PAGE:PAGE + 9] == b"via write", "via write")
expect(data[3 * PAGE:3 * PAGE + 5] == b"world", "world")
expect(data[5 * PAGE:5 * PAGE + 6] == b"ranged", "ranged")
expect(data[10 * PAGE:10 * PAGE + 4] == b"edge", "edge")
expect(data[8 * PAGE:8 * PAGE + 4] == b"\0\0\0\0", "zeros in the grown part")
print("py_mmap: ok")
