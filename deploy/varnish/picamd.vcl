# Varnish in front of picamd: the edge that lets one Raspberry Pi serve hundreds of LL-HLS
# viewers. Viewers that ask for the same part or the same blocking playlist update at the same
# moment wait on Varnish's waiting list, which is woken the moment the one request sent to the
# Pi comes back, so the Pi serves each object about once (see README, "Many viewers").
#
# Edit only the backend block below: the Pi's address and port, written twice (.host and
# .host_header), so that picamd sees its own address in Host and its DNS-rebinding check
# passes. Tested with Varnish 7.1 (Debian 12) by tests/edge_cache.rs. Run it with, for example:
#   varnishd -a :6081 -f /etc/varnish/picamd.vcl -s malloc,256m
vcl 4.1;

import std;

backend picamd {
    .host = "192.168.1.50";
    .port = "8018";
    .host_header = "192.168.1.50:8018";
    # picamd holds a blocking playlist or part request for up to three target durations
    # (3 s with 1 s segments) before answering 503; wait longer than that.
    .first_byte_timeout = 10s;
    .between_bytes_timeout = 10s;
    .connect_timeout = 2s;
}

sub vcl_recv {
    if (req.url ~ "^/preview/live") {
        # The per-frame live view is one endless stream per viewer: through an edge it would
        # cost the Pi a stream per viewer. Refused here, the page falls back to LL-HLS.
        return (synth(403, "The per-frame live view is not served through the edge"));
    }
    if (req.url !~ "^/preview/hls/") {
        # The web page and the API go straight through, uncached, with their cookies and keys.
        return (pass);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # The live files need no credential: drop what would make the builtin VCL bypass the cache.
    unset req.http.Cookie;
    unset req.http.Authorization;
    # The cache key is the path plus the delivery directives only (_HLS_msn, _HLS_part,
    # _HLS_skip), in a fixed order: any other query parameter (a player's cache buster, a
    # token) would split one object into many.
    if (req.url ~ "\?") {
        set req.url = regsuball(req.url, "([?&])(?!_HLS_(msn|part|skip)=)[^&]*", "\1");
        set req.url = regsuball(req.url, "&{2,}", "&");
        set req.url = regsub(req.url, "\?&+", "?");
        set req.url = regsub(req.url, "[?&]+$", "");
        set req.url = std.querysort(req.url);
    }
    return (hash);
}

sub vcl_hash {
    if (req.url ~ "^/preview/hls/") {
        # One stream, whatever name the viewers used for this edge.
        hash_data(req.url);
        return (lookup);
    }
}

sub vcl_backend_fetch {
    if (bereq.url ~ "^/preview/hls/") {
        # The Pi must see its own address in Host (.host_header above fills it in). Other
        # routes keep the viewers' Host: set picamd's BASE_URL to this edge's public URL if
        # its pages are used through it.
        unset bereq.http.Host;
    }
    # To let a CDN or an edge outside the Pi's network in, set HLS_CDN_SECRET on the Pi and
    # uncomment this line with the same secret:
    # set bereq.http.Authorization = "Bearer <HLS_CDN_SECRET>";
}

sub vcl_backend_response {
    if (bereq.url !~ "^/preview/hls/") {
        return (deliver);
    }
    if (beresp.status >= 400) {
        # Never keep an error (picamd marks them no-store): a part that was not there yet must
        # be asked for again. A one-second hit-for-miss keeps a burst of them from piling up.
        set beresp.ttl = 1s;
        set beresp.grace = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    if (bereq.url ~ "\.m3u8") {
        # picamd's own lifetimes: three target durations for a directive's answer, one second
        # for a plain request. No grace: a stale playlist names parts that are gone.
        set beresp.grace = 0s;
    } else {
        # Parts, segments and init are immutable, but worth keeping only while they are in
        # the playlist window; a short TTL keeps the memory of the edge small.
        set beresp.ttl = 60s;
        set beresp.grace = 0s;
    }
    return (deliver);
}

sub vcl_deliver {
    # Viewers' browsers: the directive answers and the media may be cached as picamd says; the
    # plain playlist is max-age=0, so browsers always come back for "now".
    unset resp.http.Via;
    unset resp.http.X-Varnish;
}
