/* The V4L2 layouts and request numbers picamd writes by hand in sys.rs and ioctl.rs, as the C
 * compiler sees them through the target's own linux/videodev2.h. `layout_tests.rs` compiles
 * and runs this with the host's cc, or reads what scripts/arm.sh printed by running it, cross
 * compiled, under qemu; each line is "<name> <value>". */
#include <stddef.h>
#include <stdio.h>
#include <linux/videodev2.h>

#define SIZE(t) printf("size %s %zu\n", #t, sizeof(struct t))
#define OFFSET(t, f) printf("offset %s.%s %zu\n", #t, #f, offsetof(struct t, f))
#define REQUEST(r) printf("request %s %lu\n", #r, (unsigned long)(r))

int main(void) {
    SIZE(v4l2_capability);
    SIZE(v4l2_fmtdesc);
    SIZE(v4l2_frmsizeenum);
    SIZE(v4l2_pix_format);
    SIZE(v4l2_plane_pix_format);
    SIZE(v4l2_pix_format_mplane);
    SIZE(v4l2_format);
    OFFSET(v4l2_format, fmt);
    SIZE(v4l2_requestbuffers);
    SIZE(v4l2_timecode);
    SIZE(v4l2_plane);
    OFFSET(v4l2_plane, m);
    OFFSET(v4l2_plane, data_offset);
    SIZE(v4l2_buffer);
    OFFSET(v4l2_buffer, timestamp);
    OFFSET(v4l2_buffer, timecode);
    OFFSET(v4l2_buffer, sequence);
    OFFSET(v4l2_buffer, m);
    OFFSET(v4l2_buffer, length);
    OFFSET(v4l2_buffer, request_fd);
    SIZE(v4l2_streamparm);
    SIZE(v4l2_queryctrl);
    SIZE(v4l2_query_ext_ctrl);
    OFFSET(v4l2_query_ext_ctrl, minimum);
    OFFSET(v4l2_query_ext_ctrl, dims);
    SIZE(v4l2_ext_control);
    SIZE(v4l2_ext_controls);
    OFFSET(v4l2_ext_controls, count);
    OFFSET(v4l2_ext_controls, controls);
    SIZE(v4l2_encoder_cmd);
    REQUEST(VIDIOC_QUERYCAP);
    REQUEST(VIDIOC_ENUM_FMT);
    REQUEST(VIDIOC_S_FMT);
    REQUEST(VIDIOC_REQBUFS);
    REQUEST(VIDIOC_QUERYBUF);
    REQUEST(VIDIOC_QBUF);
    REQUEST(VIDIOC_DQBUF);
    REQUEST(VIDIOC_STREAMON);
    REQUEST(VIDIOC_STREAMOFF);
    REQUEST(VIDIOC_S_PARM);
    REQUEST(VIDIOC_QUERYCTRL);
    REQUEST(VIDIOC_S_EXT_CTRLS);
    REQUEST(VIDIOC_ENUM_FRAMESIZES);
    REQUEST(VIDIOC_ENCODER_CMD);
    REQUEST(VIDIOC_QUERY_EXT_CTRL);
    return 0;
}
