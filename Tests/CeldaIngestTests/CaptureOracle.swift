// Generated from tshark 4.0 (Debian 12) over ../shared/corpus/pcap, with SIP decoded on TCP port 6060 too:
//   tshark -r FILE -d tcp.port==6060,sip -Y 'sip.Method=="INVITE" && !sip.to.tag' -T fields -e frame.time_epoch -e sip.Call-ID
//   tshark -r FILE -d tcp.port==6060,sip -Y sip   (SIP message count)
// First initial INVITE per Call-ID, its time floored to microseconds.

/// What tshark finds in each corpus capture: the dialogs (Call-ID, first INVITE µs) and the SIP message count.
enum CaptureOracle {
    static let captures: [(file: String, messages: Int, calls: [(id: String, start: Int64)])] = [
        (
            "arkime-gtp-iphone-volte.pcap", 17,
            [
                ("zTHDK1uOm6wLihi3m15pRfSR", 1415985484942189)
            ]
        ),
        (
            "cnta-sip-failures-qinq.pcap", 26,
            [
                ("D703AC839C339BBD97838F97@1170ffffffff", 1748311163652567),
                ("74cW723590327088bcGhEfEoDcC0f@NL1MSC1.CORE.UPCMOBILE.COM", 1748311163773407),
                ("XYdU534000427038bcGhEfDfJmE0h@NL1MSC1.CORE.UPCMOBILE.COM", 1748311234575930),
            ]
        ),
        (
            "cnta-sip-mt-offnet-qinq.pcap", 83,
            [
                ("SD42mf901-3c018714cacb43a0b6dd2cff0c9119a8-v300g00020", 1748325608612587),
                ("HZaW7080008270mebcGhEfEmEjC0f@NL1MSC1.CORE.UPCMOBILE.COM", 1748325608726396),
            ]
        ),
        (
            "cnta-volte-calls-2-sll.pcapng", 24,
            [
                ("589561609_284673948@192.168.101.4", 1639404270832832)
            ]
        ),
        (
            "hep-erspan-sip-ipv4-udp.pcapng", 140,
            [
                ("ddd141f1d982d8989fb73db754a8fbb7@192.168.1.191", 1526006126157621),
                ("bf3880-0-16e4-5af571fa-38bc4ba4-5af571fa@101.231.48.19", 1526006139245417),
                ("cdfef7c7647e97e4ff66fbf504c524e4@192.168.1.191", 1526006139348843),
            ]
        ),
        (
            "hep-ipip0-rawip.pcap", 8,
            [
                ("4sHr4rbxLEYDZTMZ3ulI4f..@179.43.150.26", 1774015992783378)
            ]
        ),
        (
            "hep-rtp-rtcp-sip-ipv4-udp.pcap", 14,
            [
                ("12013223@200.57.7.195", 1105725482965944),
                ("12015624@200.57.7.195", 1105725507631897),
            ]
        ),
        (
            "hep-sip-ipv4-tcp-fragmented.pcap", 406,
            [
                ("17c0b3b3-dfd2-42ac-9018-6156179021c0", 1531993985422330),
                ("61ab465a-07cc-4ea4-a56a-8a3ee7b96bdb", 1531993986495841),
                ("85b939c9-8f01-4f54-8042-a2338185f4cb", 1531993988210896),
                ("df3abe62-c8ed-4b11-8287-a44f021ae498", 1531993993376863),
                ("75efbc75-eff6-4442-b0a0-5a0dfe91f5e1", 1531993994879118),
                ("0ce9b153-e5f0-419c-83f4-654f1781a0bb", 1531993996845781),
                ("fa8ec971-f325-409a-bcf2-c9af49d26d8e", 1531993997435295),
                ("a25a0d41-6915-4f05-a661-bd13c93d0df3", 1531993998998575),
                ("ddcc448f-561e-4bb1-a003-950342ed1c17", 1531993999267269),
                ("12734481-9c53-4d08-b07e-eda87e9950ed", 1531994001180125),
                ("0ba96366592e8180b15b37b77600", 1531994006146215),
                ("e9b3c4c3-ebb1-472f-a1d2-6e06099ac11b", 1531994008143475),
                ("8014f9386592e8190b15b37b77600", 1531994011821735),
                ("02220406592e81abb15b37b77600", 1531994020614844),
                ("802220406592e81b8b15b37b77600", 1531994021882236),
                ("06883a22-81fb-4bc3-ad93-2bcf489ecbb0", 1531994025779906),
                ("976b9838-7961-43d7-84a6-cb50130a402c", 1531994030674214),
                ("1a4c1cda-1eab-42e7-b8de-98626a5fd03a", 1531994032887339),
                ("08aa9496592e81f3b15b37b77600", 1531994036722087),
                ("808aa9496592e812b25b37b77600", 1531994039104467),
                ("e07645c7-52c6-41fb-96bf-c0659cbe2bf8", 1531994040419950),
                ("82b9b6a3-441c-4ed1-bde0-fa218429ffd7", 1531994041668181),
                ("3aab093a-5dfe-45b1-b25e-f24fca6e8079", 1531994050225209),
                ("80f232536592e8138b25b37b77600", 1531994055562009),
                ("0234a189-d0ab-41a9-879d-f08b6302060b", 1531994056914794),
                ("5cebe16b-ac29-40a9-b100-b6e25943e877", 1531994062881337),
                ("005a5a6592e814fb25b37b77600", 1531994064542687),
                ("05abc5c6592e8166b25b37b77600", 1531994068244421),
                ("0e81616592e818cb25b37b77600", 1531994076058362),
                ("80e81616592e819ab25b37b77600", 1531994079705265),
                ("8068e3636592e81aab25b37b77600", 1531994081460164),
                ("a2ac7c1c-2359-46b3-bbfc-c9716206f6c8", 1531994082177933),
                ("3717b920-957d-48b3-ae64-aa4ce117b1b8", 1531994087253034),
                ("db7a6eab-c42a-4a0a-a94e-aa32b071ee04", 1531994095663755),
                ("0d06c6d6592e81e2b25b37b77600", 1531994096697902),
                ("1c244bee-3cbe-4a37-a600-e921703d2dbe", 1531994104505907),
                ("bef7ab40-12f0-4b7b-8b38-e0b729487c26", 1531994112191810),
            ]
        ),
        (
            "hep-sip-ipv4-tcp-retrans.pcap", 8,
            []
        ),
        (
            "hep-sip-ipv4-tcp.pcap", 7,
            [
                ("158936656982201062716@10.33.6.100", 1311857686562096)
            ]
        ),
        (
            "hep-sip-ipv6-udp.pcap", 6,
            [
                ("c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0", 1328589362251758)
            ]
        ),
        (
            "hep-sip-sctp.pcap", 4,
            [
                ("717B2539AD2002C9152DC497@0870ffffffff", 1579813424069637)
            ]
        ),
        (
            "hep-sip-tcp-websocket.pcap", 39,
            [
                ("kovfhoptshgn59q712sr", 1542051165605116),
                ("926ffd16-6154-1237-09ba-0270b3230128", 1542051165690467),
            ]
        ),
        (
            "ndpi-fax-call-t38-sip.pcap", 92,
            [
                ("00e9d4a500e9d48-0015-0001-0000-0000@10.35.40.25", 1228468958651179),
                ("SD4909701-9ff11bf72eb4a347c92974d8fbbc2668-ao8o3i1", 1228468958657176),
            ]
        ),
        (
            "ndpi-gre-sip.pcapng", 36,
            [
                ("AI1737AB5491ADC392@192.168.103.40", 1483501348920139),
                ("AI4F610BFAF71F5BE0@192.168.10.210", 1483503459646229),
                ("AI8435DD52A4ABA390@192.168.103.40", 1483510522631993),
                ("AI27E8D88D54CE0A7B@192.168.10.210", 1483514392621832),
                ("AI3B1F578CA7F5E2AA@192.168.103.40", 1483514625210252),
            ]
        ),
        (
            "sngrep-ipip-tcp.pcap", 4,
            [
                ("1RLuVzzBClYCf2", 1639489747335564)
            ]
        ),
        (
            "sngrep-ipv6frag-sll.pcap", 32,
            [
                ("71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521", 1647926426047912)
            ]
        ),
        (
            "sv-aaa-sip.pcap", 81,
            [
                ("105090259-446faf7a@192.168.1.2", 1120470049188993),
                ("85216695-42dcdb1d@192.168.1.2", 1120470233794463),
                ("24487391-449bf2a0@192.168.1.2", 1120470848528833),
                ("11894297-4432a9f8@192.168.1.2", 1120470966443914),
            ]
        ),
        (
            "sv-cloudshark-sip-s0.pcap", 10,
            [
                ("12013223@200.57.7.195", 1105725482965944),
                ("12015624@200.57.7.195", 1105725507631897),
            ]
        ),
        (
            "sv-sip-body-large-null.pcap", 2,
            [
                ("test123@attacker.com", 1782243452935673)
            ]
        ),
        (
            "sv-sip-compact-form.pcap", 1,
            [
                ("105090259-446faf7a@192.168.1.2", 1713446096386450)
            ]
        ),
        (
            "sv-sip-tcp.pcap", 2,
            []
        ),
        (
            "zeek-linux-sll2-nosip.pcap", 0,
            []
        ),
        (
            "zeek-sip-invalid-content-length.pcap", 2,
            [
                ("a84b4c76e66710@10.0.0.1", 1781520273766727)
            ]
        ),
        (
            "zeek-sip-long-paths-rawip.pcap", 2,
            []
        ),
    ]
}
