// Seek the call's audio player to a transcript segment when it is clicked.
(function () {
  var player = document.getElementById("call-audio");
  if (!player) return;
  document.querySelectorAll("button.segment[data-start]").forEach(function (button) {
    button.addEventListener("click", function () {
      player.currentTime = parseFloat(button.dataset.start) || 0;
      player.play();
    });
  });
})();

// Upload with a progress bar (without JavaScript the form posts as usual). The server answers
// {"redirect": url}; the browser then loads that page, which shows the flash message.
(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var bar = document.getElementById("upload-progress");
  var status = document.getElementById("upload-status");
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) return; // a double click sends once
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      var percent = Math.round((100 * e.loaded) / e.total);
      bar.value = percent;
      status.textContent = form.dataset.sending.replace("{percent}", percent);
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = form.dataset.sent;
    });
    xhr.addEventListener("load", function () {
      var answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (err) {
        answer = null;
      }
      if (xhr.status < 400 && answer && answer.redirect) {
        window.location.assign(answer.redirect);
        return;
      }
      fail();
    });
    xhr.addEventListener("error", fail);
    function fail() {
      button.disabled = false;
      bar.hidden = true;
      status.textContent = form.dataset.failed;
    }
    xhr.send(new FormData(form));
  });
})();
