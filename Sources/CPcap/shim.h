// libpcap's types and constants only. The library itself is loaded with dlopen when a capture
// is read (CeldaIngest/Capture/Pcap.swift), so a build runs where libpcap is absent as long as
// it reads no capture.
#include <pcap/pcap.h>

#include <stdio.h>
#include <sys/types.h>

// glibc's fopencookie (a GNU extension the Glibc module does not expose): lets libpcap read a
// capture from any byte stream (pipes, gzip). Same layout as cookie_io_functions_t.
struct celda_cookie_io {
    ssize_t (*read)(void *cookie, char *buffer, size_t size);
    ssize_t (*write)(void *cookie, const char *buffer, size_t size);
    int (*seek)(void *cookie, long long *offset, int whence);
    int (*close)(void *cookie);
};
extern FILE *celda_fopencookie(void *cookie, const char *mode, struct celda_cookie_io io) __asm__("fopencookie");
