// The API's error codes (docs/errors.md) in words a user understands, with
// what to do about each.

const words = {
  0: ['The server cannot be reached.', 'Check the phone\'s connection and try again.'],
  1512: ['The device did not answer in time.', 'Make sure it is powered on and has mobile coverage (move it near a window), then try again. A device that sleeps pairs when it next wakes up.'],
  3710: ['This device is already being paired.', 'Wait for that pairing to finish, or cancel it, then try again.'],
  3711: ['This device is already bound to another account.', 'Ask its owner to remove it, or reset the device, then try again.'],
  3716: ['The device was reset to factory settings while pairing.', 'Wait until it has restarted, then try again.'],
  3717: ['This service does not know the device\'s product.', 'Check that the label belongs to a device made for this service.'],
  3718: ['Your session has expired.', 'Log in again.'],
  3719: ['You may not do that in this home.', 'Ask the home\'s owner to make you an admin of it, or use a home of your own.'],
  3720: ['You are not logged in.', 'Log in and try again.'],
  3721: ['Something is missing.', 'Fill in every field and try again.'],
  3722: ['A field is empty.', 'Fill it in and try again.'],
  3723: ['A field is not right.', 'Correct it and try again.'],
  3724: ['The request was not understood.', 'Reload the page and try again.'],
  3733: ['No device has this label.', 'Check that you scanned the right label; typed text must be the whole label, as printed under the QR code.'],
  4004: ['Not found.', 'It may have been removed; go back and reload.'],
  4009: ['That is taken.', 'Choose another one.'],
  4010: ['Wrong username or password.', 'Check both and try again.'],
  4013: ['The file is too large.', 'Send a smaller one.'],
  4015: ['That kind of file cannot be used here.', 'Choose a file of the kind asked for.'],
  4020: ['Pairing was cancelled.', 'Start again when you are ready.'],
  4100: ['This is not a device label of this service.', 'Scan the QR code on the device\'s label, or type the text printed under it.'],
  4101: ['The label text is too long.', 'Paste only the text under the QR code.'],
  4102: ['The file is not a picture that can be read.', 'Use a PNG, JPEG or GIF photo of the label.'],
  4103: ['No QR code could be read in the picture.', 'Take the photo closer, in focus, with the whole label in view.'],
  4104: ['That is the device\'s IMEI, not its label code.', 'Type the code under the QR, not the IMEI: 7 groups of 4 letters and digits.'],
  4200: ['The CSV file cannot be read.', 'Check it has a header line with an imei column and at most 10,000 rows.'],
  4201: ['Some rows of the CSV file are wrong; nothing was imported.', 'Correct the rows named above and upload the file again.'],
  4290: ['Too many attempts.', 'Wait a minute and try again.'],
  4300: ['The device\'s maker did not allow this device to be added.', 'Read the reason above; ask the seller or the maker if it is unclear.'],
  4301: ['The device\'s maker could not be asked whether this device may be added.', 'Try again in a few minutes.'],
  4400: ['The password is wrong.', 'Type your current password again; nothing was changed.'],
  4401: ['That is your own account.', 'Enter the username of someone else.'],
  4402: ['Only the device\'s owner can do this.', 'Ask the person who added the device.'],
  4403: ['This device is shared with you to look at only.', 'Ask its owner for control to rename it.'],
  4404: ['This device is already offered to someone.', 'Cancel that offer first, or wait for its answer.'],
  4405: ['This offer has expired.', 'Ask the owner to offer the device again.'],
  4406: ['This offer has already been answered or withdrawn.', 'Reload the page to see where it stands.'],
  4407: ['The device changed hands since it was offered.', 'The offer has ended; ask its present owner.'],
  4500: ['The device\'s maker has blocked this device.', 'It cannot be added. Ask the seller or the maker; an admin must unblock it first.'],
  4501: ['The device is not bound to anyone.', 'Nothing was changed; there is no owner to unbind it from.'],
  5000: ['Something went wrong on the server.', 'Try again; if it keeps happening, tell the service\'s operator.'],
  5031: ['The server cannot save anything right now.', 'Nothing was changed. Wait a minute and try again; if it keeps happening, tell the service\'s operator.'],
  5032: ['The server is busy.', 'Wait a few seconds and try again.'],
};

/**
 * Describes an error for people: {title, detail, todo, code}. detail is the
 * server's own message, when there is one beyond the title.
 */
export function describe(err) {
  const code = err && typeof err.code === 'number' ? err.code : 5000;
  const [title, todo] = words[code] || [`Error ${code}.`, 'Try again.'];
  let t = todo;
  if ((code === 4290 || code === 5031 || code === 5032) && err.retryAfter) t = `Wait ${err.retryAfter} seconds and try again.`;
  return { code, title, detail: err.message || '', todo: t };
}
