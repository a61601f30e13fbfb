// The token page's wallet actions through the standard EIP-1193 provider (window.ethereum): link or change the
// payout wallet by signing a Sign-In-with-Ethereum message (personal_sign), and claim tokens by sending the
// claim transaction the page shows (eth_sendTransaction). The platform never sees a key.
(function () {
  "use strict";
  var section = document.getElementById("wallet");
  if (!section) return;
  var status = section.querySelector("[data-testid=wallet-status]");

  function say(text) { status.textContent = text; }

  function csrf() {
    var input = section.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {}),
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.detail || ("HTTP " + r.status));
        return data;
      });
    });
  }

  function provider() {
    if (!window.ethereum) throw new Error("No browser wallet found (window.ethereum).");
    return window.ethereum;
  }

  async function linkWallet() {
    var eth = provider();
    var accounts = await eth.request({ method: "eth_requestAccounts" });
    var address = accounts[0];
    var chainId = parseInt(await eth.request({ method: "eth_chainId" }), 16);
    var issued = await post(section.dataset.nonceUrl, { address: address, chain_id: chainId });
    say("Sign the message in your wallet…");
    var signature = await eth.request({ method: "personal_sign", params: [issued.message, address] });
    var linked = await post(section.dataset.linkUrl, { message: issued.message, signature: signature });
    say("Wallet " + linked.address + " linked.");
    window.location.reload();
  }

  async function waitForReceipt(eth, hash) {
    for (var i = 0; i < 120; i++) {
      var receipt = await eth.request({ method: "eth_getTransactionReceipt", params: [hash] });
      if (receipt && receipt.blockNumber) return receipt;
      await new Promise(function (ok) { setTimeout(ok, 500); });
    }
    throw new Error("The claim transaction " + hash + " is not mined yet; the page updates when it is.");
  }

  async function claim(button) {
    var eth = provider();
    var accounts = await eth.request({ method: "eth_requestAccounts" });
    var from = button.dataset.from;
    if (!accounts.some(function (a) { return a.toLowerCase() === from; })) {
      throw new Error("Switch your wallet to " + from + ": this claim belongs to that address.");
    }
    var chainId = parseInt(await eth.request({ method: "eth_chainId" }), 16);
    if (chainId !== parseInt(button.dataset.chainId, 10)) {
      throw new Error("Switch your wallet to chain " + button.dataset.chainId + ".");
    }
    say("Confirm the claim in your wallet…");
    var hash = await eth.request({
      method: "eth_sendTransaction",
      params: [{ from: from, to: button.dataset.to, data: button.dataset.data }],
    });
    say("Claim sent: " + hash + ". Waiting for it to be mined…");
    var receipt = await waitForReceipt(eth, hash);
    if (receipt.status !== "0x1") throw new Error("The claim transaction " + hash + " was reverted.");
    await post(section.dataset.refreshUrl, {});
    say("Claimed in " + hash + ".");
    window.location.reload();
  }

  document.addEventListener("click", function (e) {
    var target = e.target;
    var action = null;
    if (target.matches("[data-wallet-link]")) action = linkWallet();
    else if (target.matches("[data-claim]")) action = claim(target);
    if (!action) return;
    target.disabled = true;
    action.catch(function (err) { say(err.message || String(err)); target.disabled = false; });
  });
})();
