/** The benchmarks' camera-roll folder (camera-roll.ts, shrink-cosine.ts): made once by test/reference/camera_roll.py --bench. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { log, REPO } from '../common';

/** The folder, made once (`--bench` layout of camera_roll.py). */
export function cameraRoll(dir: string): string {
  const roll = path.join(dir, 'roll');
  if (!fs.existsSync(path.join(dir, '.complete'))) {
    log(`making the camera roll in ${roll} (a minute or more)`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    execFileSync('/usr/bin/python3', [path.join(REPO, 'test', 'reference', 'camera_roll.py'), dir, '--bench'], { stdio: ['ignore', 'ignore', 'inherit'] });
    fs.writeFileSync(path.join(dir, '.complete'), '');
  }
  return roll;
}

