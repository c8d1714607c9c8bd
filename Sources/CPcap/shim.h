// libpcap's types and constants only. The library itself is loaded with dlopen when a capture
// is read (CeldaIngest/Capture/Pcap.swift), so a build runs where libpcap is absent as long as
// it reads no capture.
#include <pcap/pcap.h>
