/** crop: keep a width x height rectangle at (x, y), centred when x or y is absent; it must lie inside the frame. */
import { filter } from '../graph.js';
import { evenRound, type OperationModule } from './context.js';

export const crop: OperationModule<'crop'> = {
  stage: 'edit',
  needs: 'video',
  apply(op, at, c) {
    const video = c.video!;
    let ok = true;
    for (const side of ['width', 'height'] as const) {
      if (op[side] % 2 !== 0) {
        c.problem({ code: 'INVALID_OPTION', pointer: at(side), message: `${side} must be even`, suggestion: String(evenRound(op[side])) });
        ok = false;
      }
    }
    const { width: W, height: H } = video.frame;
    if (W !== null && H !== null) {
      const x = op.x ?? Math.floor((W - op.width) / 2);
      const y = op.y ?? Math.floor((H - op.height) / 2);
      if (op.width > W || x < 0 || x + op.width > W) {
        c.problem({ code: 'INVALID_OPTION', pointer: at(op.width > W ? 'width' : 'x'), message: `the crop must lie inside the ${W}x${H} frame` });
        ok = false;
      }
      if (op.height > H || y < 0 || y + op.height > H) {
        c.problem({ code: 'INVALID_OPTION', pointer: at(op.height > H ? 'height' : 'y'), message: `the crop must lie inside the ${W}x${H} frame` });
        ok = false;
      }
      if (!ok) return;
      video.add(filter('crop', { w: op.width, h: op.height, x, y }));
    } else {
      if (!ok) return;
      if (c.probed) {
        c.problem({ code: 'UNSUPPORTED_INPUT', pointer: at(), message: 'the frame size of the input is unknown, so it cannot be cropped' });
        return;
      }
      video.add(filter('crop', { w: op.width, h: op.height, x: op.x, y: op.y }));
    }
    video.frame = { ...video.frame, width: op.width, height: op.height };
  },
};
