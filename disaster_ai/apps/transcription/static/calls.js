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
